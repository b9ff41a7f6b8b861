#!/usr/bin/env python3
"""Writes a canonical custos transaction log of N rows, plus the accounts and FX rates it
needs, for the ingest benchmark. Deterministic for a given --rows and --seed.

Stand-in until `custos generate` lands: plain background traffic only (no typologies), with
heavy-tailed amounts, a daily rhythm, a few percent cross-border in four currencies.
"""
import argparse
import os
import random
from datetime import datetime, timedelta, timezone

TYPES = [("PAYMENT", 70), ("TRANSFER", 15), ("TOPUP", 5), ("WITHDRAWAL", 4), ("CASH_IN", 3), ("CASH_OUT", 2), ("REFUND", 1)]
CHANNELS = {"PAYMENT": ["QR", "NFC", "APP", "WEB", "POS"], "TRANSFER": ["APP", "WEB"], "TOPUP": ["APP"],
            "WITHDRAWAL": ["APP"], "CASH_IN": ["AGENT"], "CASH_OUT": ["AGENT"], "REFUND": ["APP"]}
FOREIGN = [("USD", "US", "7.2451"), ("HKD", "HK", "0.9312"), ("EUR", "DE", "7.8720"), ("SGD", "SG", "5.4120")]
AUTH = ["PASSWORD", "PIN", "FINGERPRINT", "FACE", "NONE"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--accounts", type=int, default=200_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="bench/out")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rnd = random.Random(a.seed)
    start = datetime(2025, 3, 1, tzinfo=timezone(timedelta(hours=8)))

    with open(os.path.join(a.out, "fx_rates.csv"), "w") as f:
        f.write("rate_date,currency,rate\n")
        for d in range(-1, a.days + 1):
            day = (start + timedelta(days=d)).date().isoformat()
            for ccy, _, rate in FOREIGN:
                f.write(f"{day},{ccy},{rate}\n")
    with open(os.path.join(a.out, "accounts.csv"), "w") as f:
        f.write("account_id,customer_id,account_class,opened_at,closed_at,status,home_country,currency,foreign_card_bound\n")
        for i in range(a.accounts):
            cls = "MERCHANT" if i % 50 == 0 else ("AGENT" if i % 997 == 0 else "II")
            f.write(f"A{i:07d},C{i:07d},{cls},2020-01-01T00:00:00+08:00,,ACTIVE,CN,CNY,false\n")

    types = [t for t, w in TYPES for _ in range(w)]
    merchants = [f"A{i:07d}" for i in range(0, a.accounts, 50)]
    agents = [f"A{i:07d}" for i in range(0, a.accounts, 997)]
    # Hour-of-day weights: quiet at night, peaks at lunch and evening.
    hours = [h for h, w in enumerate([1, 1, 1, 1, 1, 2, 4, 8, 10, 9, 9, 12, 14, 11, 9, 9, 10, 12, 14, 13, 11, 8, 5, 2]) for _ in range(w)]
    path = os.path.join(a.out, "transactions.csv")
    with open(path, "w", buffering=1 << 20) as f:
        f.write("txn_id,ts,txn_type,channel,payer_account,payee_account,amount,currency,payer_country,payee_country,"
                "status,merchant_id,mcc,device_id,ip,auth_method,fx_rate,settlement_amount,settlement_currency\n")
        lines = []
        for n in range(a.rows):
            t = types[rnd.randrange(len(types))]
            day = rnd.randrange(a.days)
            ts = start + timedelta(days=day, hours=hours[rnd.randrange(len(hours))], seconds=rnd.randrange(3600))
            payer = f"A{rnd.randrange(a.accounts):07d}"
            if t == "PAYMENT":
                payee = merchants[rnd.randrange(len(merchants))]
            elif t in ("CASH_IN", "TOPUP"):
                payer, payee = agents[rnd.randrange(len(agents))], payer
            elif t in ("CASH_OUT", "WITHDRAWAL"):
                payee = agents[rnd.randrange(len(agents))]
            else:
                payee = f"A{rnd.randrange(a.accounts):07d}"
            # Log-normal amounts: median about 40, most consumer payments under 100.
            amount = max(min(rnd.lognormvariate(3.7, 1.3), 900_000.0), 0.01)
            ccy, pc, qc = "CNY", "CN", "CN"
            if rnd.random() < 0.04:
                ccy, pc, _ = FOREIGN[rnd.randrange(len(FOREIGN))]
            status = "SUCCESS" if rnd.random() < 0.97 else "FAILED"
            ch = CHANNELS[t][rnd.randrange(len(CHANNELS[t]))]
            mcc = "5812" if t == "PAYMENT" else ""
            merchant = f"M{payee[1:]}" if t == "PAYMENT" else ""
            lines.append(f"T{n:010d},{ts.isoformat()},{t},{ch},{payer},{payee},{amount:.2f},{ccy},{pc},{qc},{status},"
                         f"{merchant},{mcc},dev{rnd.randrange(1_000_000)},,{AUTH[rnd.randrange(5)]},,,\n")
            if len(lines) == 100_000:
                f.write("".join(lines))
                lines.clear()
        f.write("".join(lines))
    print(path)


if __name__ == "__main__":
    main()
