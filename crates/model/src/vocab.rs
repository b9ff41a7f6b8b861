//! Enumerations of the canonical input formats. Each list is the exact set of accepted
//! upper-case values; anything else is quarantined as `unknown_enum_value`.

/// Transaction types.
pub const TXN_TYPES: &[&str] = &[
    "PAYMENT",
    "TRANSFER",
    "TOPUP",
    "WITHDRAWAL",
    "CASH_IN",
    "CASH_OUT",
    "REFUND",
];
/// Channels a transaction is made through.
pub const CHANNELS: &[&str] = &["QR", "NFC", "APP", "WEB", "POS", "AGENT"];
/// Transaction outcome.
pub const TXN_STATUSES: &[&str] = &["SUCCESS", "FAILED", "REVERSED"];
/// How the payer authenticated.
pub const AUTH_METHODS: &[&str] = &["PASSWORD", "PIN", "FINGERPRINT", "FACE", "VOICE", "NONE"];
/// Natural or non-natural person.
pub const CUSTOMER_TYPES: &[&str] = &["INDIVIDUAL", "BUSINESS"];
/// Identity document kinds.
pub const ID_TYPES: &[&str] = &[
    "NATIONAL_ID",
    "PASSPORT",
    "RESIDENCE_PERMIT",
    "BUSINESS_LICENCE",
    "OTHER",
];
/// KYC verification state.
pub const KYC_STATUSES: &[&str] = &["UNVERIFIED", "VERIFIED", "REJECTED"];
/// Customer risk rating.
pub const RISK_RATINGS: &[&str] = &["LOW", "MEDIUM", "HIGH"];
/// Payment-account classes (PBOC 2015 No. 43 tiers, plus the institution's own accounts).
pub const ACCOUNT_CLASSES: &[&str] = &["I", "II", "III", "MERCHANT", "AGENT", "INTERNAL"];
/// Account lifecycle state.
pub const ACCOUNT_STATUSES: &[&str] = &["ACTIVE", "DORMANT", "FROZEN", "CLOSED"];
/// Licence state.
pub const LICENCE_STATUSES: &[&str] = &["ACTIVE", "SUSPENDED", "REVOKED", "EXPIRED"];
/// FATF list names, as in the FATF jurisdictions file.
pub const FATF_LISTS: &[&str] = &["high_risk_call_for_action", "increased_monitoring"];
