use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub(crate) const SETTINGS_FILE: &str = "warehouse.json";

/// Settings a warehouse is created with and keeps for life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseSettings {
    /// ISO 4217 code every amount is also converted to (`amount_reporting`).
    pub reporting_currency: String,
    /// IANA time zone of the reporting day (FX rate dates, daily aggregates).
    pub reporting_timezone: String,
}

impl Default for WarehouseSettings {
    fn default() -> Self {
        WarehouseSettings {
            reporting_currency: "CNY".into(),
            reporting_timezone: "Asia/Shanghai".into(),
        }
    }
}

impl WarehouseSettings {
    /// Checks the currency against ISO 4217 and the zone against the IANA database.
    pub fn validate(&self) -> Result<()> {
        if custos_model::currency_minor_units(&self.reporting_currency).is_none() {
            return Err(Error::InvalidSetting(format!(
                "reporting currency {:?} is not an ISO 4217 code with minor units",
                self.reporting_currency
            )));
        }
        if self.reporting_timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Error::InvalidSetting(format!(
                "reporting time zone {:?} is not an IANA time zone name",
                self.reporting_timezone
            )));
        }
        Ok(())
    }
}
