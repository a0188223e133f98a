//! Kubernetes resource quantities with Go's `resource.Quantity` semantics.
//!
//! A quantity is parsed exactly into nano-units (10⁻⁹) held in an `i128`, so
//! sums of container requests are exact; conversion to the integers the
//! scheduler works in rounds *up*, as Go's `MilliValue()` (cpu) and `Value()`
//! (memory, storage, extended resources) do. Anything finer than a nano-unit
//! is rounded up to one when parsed.

use std::fmt;

/// A parsed quantity in nano-units (1 = 10⁻⁹ of the base unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Quantity {
    nanos: i128,
}

/// Why a quantity string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Syntax,
    #[error("quantity is too large")]
    TooLarge,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;

impl Quantity {
    /// Parses a quantity string such as `500m`, `1.5Gi`, `2e3` or `100`.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            Some(_) => (false, text),
            None => return Err(QuantityError::Syntax),
        };
        let number_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (number, ""),
        };
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(QuantityError::Syntax);
        }
        // Leading zeros carry no value; trailing fraction zeros neither. Keep
        // the digits we must multiply small enough for i128.
        let whole = whole.trim_start_matches('0');
        let fraction = fraction.trim_end_matches('0');
        if whole.len() + fraction.len() > 30 {
            return Err(QuantityError::TooLarge);
        }
        let mut mantissa: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa * 10 + i128::from(digit - b'0');
        }
        let fraction_digits = i32::try_from(fraction.len()).map_err(|_| QuantityError::TooLarge)?;
        let (binary_power, decimal_exponent) = parse_suffix(suffix)?;
        // value = mantissa * 10^(decimal_exponent - fraction_digits) * 2^binary_power
        let mut numerator = mantissa.checked_mul(1i128 << binary_power).ok_or(QuantityError::TooLarge)?;
        let exponent = decimal_exponent - fraction_digits + 9;
        let nanos = if exponent >= 0 {
            for _ in 0..exponent {
                numerator = numerator.checked_mul(10).ok_or(QuantityError::TooLarge)?;
            }
            numerator
        } else {
            let mut divisor: i128 = 1;
            for _ in 0..(-exponent) {
                divisor = match divisor.checked_mul(10) {
                    Some(divisor) => divisor,
                    // Smaller than a nano-unit: rounds up to one (or zero).
                    None => return Ok(Self { nanos: if numerator > 0 { if negative { 0 } else { 1 } } else { 0 } }),
                };
            }
            ceil_div(numerator, divisor)
        };
        Ok(Self { nanos: if negative { -nanos } else { nanos } })
    }

    /// A quantity of whole units (bytes, pods, devices).
    pub fn from_units(units: i64) -> Self {
        Self { nanos: i128::from(units) * NANOS_PER_UNIT }
    }

    /// A quantity of thousandths (millicores).
    pub fn from_millis(millis: i64) -> Self {
        Self { nanos: i128::from(millis) * NANOS_PER_MILLI }
    }

    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// Go's `MilliValue()`: thousandths, rounded up.
    pub fn milli_value(self) -> i64 {
        saturate(ceil_div(self.nanos, NANOS_PER_MILLI))
    }

    /// Go's `Value()`: whole units, rounded up.
    pub fn value(self) -> i64 {
        saturate(ceil_div(self.nanos, NANOS_PER_UNIT))
    }

    pub fn saturating_add(self, other: Self) -> Self {
        Self { nanos: self.nanos.saturating_add(other.nanos) }
    }
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

fn ceil_div(numerator: i128, divisor: i128) -> i128 {
    let quotient = numerator / divisor;
    if numerator % divisor > 0 { quotient + 1 } else { quotient }
}

/// Returns (power of two, power of ten) for a suffix.
fn parse_suffix(suffix: &str) -> Result<(u32, i32), QuantityError> {
    Ok(match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E']).ok_or(QuantityError::Syntax)?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(QuantityError::Syntax);
            }
            let exponent: i32 = exponent.parse().map_err(|_| QuantityError::TooLarge)?;
            if !(-64..=64).contains(&exponent) {
                return Err(QuantityError::TooLarge);
            }
            (0, exponent)
        }
    })
}

/// Formats millicores the way Kubernetes prints a cpu quantity: `2`, `1500m`.
pub fn format_cpu_millis(millis: i64) -> String {
    if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") }
}

/// Formats a byte count (or any whole-unit amount) with the largest binary
/// suffix that divides it exactly: `2Gi`, `500Mi`, `1000`.
pub fn format_bytes(bytes: i64) -> String {
    if bytes == 0 {
        return "0".to_string();
    }
    for (suffix, shift) in [("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        let unit = 1i64 << shift;
        if bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos % NANOS_PER_UNIT == 0 {
            write!(f, "{}", self.nanos / NANOS_PER_UNIT)
        } else if self.nanos % NANOS_PER_MILLI == 0 {
            write!(f, "{}m", self.nanos / NANOS_PER_MILLI)
        } else {
            write!(f, "{}n", self.nanos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        match Quantity::parse(text) {
            Ok(quantity) => quantity,
            Err(err) => panic!("{text}: {err}"),
        }
    }

    #[test]
    fn milli_values_round_up() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1").milli_value(), 1000);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("0.0001").milli_value(), 1);
        assert_eq!(q("1500u").milli_value(), 2);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("2e-3").milli_value(), 2);
        assert_eq!(q(".5").milli_value(), 500);
    }

    #[test]
    fn values_round_up() {
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1.5Gi").value(), 3 << 29);
        assert_eq!(q("500Mi").value(), 500 << 20);
        assert_eq!(q("1G").value(), 1_000_000_000);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1E3").value(), 1000);
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("1.1").value(), 2);
        assert_eq!(q("0.5Ki").value(), 512);
        assert_eq!(q("12k").value(), 12_000);
        assert_eq!(q("+3").value(), 3);
        assert_eq!(q("007").value(), 7);
    }

    #[test]
    fn sums_are_exact_before_rounding() {
        let half = q("0.5m");
        assert_eq!(half.saturating_add(half).milli_value(), 1);
        assert_eq!(half.milli_value() + half.milli_value(), 2);
    }

    #[test]
    fn malformed_quantities_are_errors() {
        for text in ["", "abc", "1.2.3", "1Z", "1 Gi", "Gi", "1e", "1e+", ".", "1ki", "--1"] {
            assert_eq!(Quantity::parse(text), Err(QuantityError::Syntax), "{text:?}");
        }
        assert_eq!(Quantity::parse("1e999"), Err(QuantityError::TooLarge));
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(q("100Ei").value(), i64::MAX);
    }

    #[test]
    fn formats_like_kubernetes() {
        assert_eq!(format_cpu_millis(1500), "1500m");
        assert_eq!(format_cpu_millis(2000), "2");
        assert_eq!(format_bytes(2 << 30), "2Gi");
        assert_eq!(format_bytes(500 << 20), "500Mi");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(format_bytes(0), "0");
        assert_eq!(q("1500m").to_string(), "1500m");
    }
}
