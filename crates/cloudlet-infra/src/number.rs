//! Terraform's numbers: binary floating point with a per-value precision.
//!
//! Terraform keeps numbers as arbitrary-precision binary floats: literals and
//! strings parse at 512 bits of mantissa, integers made by functions (such as
//! `length`) carry 64 bits, and `pow`/`log` results carry 53 (they are
//! float64). An operation's result has the larger precision of its operands
//! and is rounded to nearest, ties to even. Printing picks the shortest
//! decimal that reads back to the same value at the value's own precision,
//! which is why `1/3` prints 155 digits and `pow(2, 64)` prints
//! `18446744073709550000`.
//!
//! This module owns only arithmetic and decimal text; it knows nothing about
//! values, types or errors beyond "not a number".

use std::cmp::Ordering;
use std::fmt;

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};

/// Precision of numbers parsed from text (literals, `tonumber`, JSON).
pub const PARSE_PREC: u32 = 512;
/// Precision of integers made by functions.
pub const INT_PREC: u32 = 64;
/// Precision of float64 results (`pow`, `log`).
pub const F64_PREC: u32 = 53;

/// The largest decimal exponent cloudlet expands exactly.
const MAX_DECIMAL_EXP: i64 = 100_000;

/// A finite or infinite binary float: `(-1)^neg × mant × 2^exp`.
#[derive(Clone)]
pub struct Number {
    neg: bool,
    kind: Kind,
    prec: u32,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Zero,
    /// `mant` is odd (trailing zero bits are folded into `exp`).
    Finite {
        mant: BigUint,
        exp: i64,
    },
    Inf,
}

/// An operation whose result is not a number (`0/0`, `Inf - Inf`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotANumber;

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.to_text(), self.prec)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Number {
    fn zero(neg: bool, prec: u32) -> Number {
        Number { neg, kind: Kind::Zero, prec }
    }

    /// Positive or negative infinity.
    pub fn infinity(neg: bool) -> Number {
        Number { neg, kind: Kind::Inf, prec: 0 }
    }

    /// An integer as functions make them (64 bits, or more for big ones).
    pub fn from_i64(v: i64) -> Number {
        Number::from_bigint(&BigInt::from(v))
    }

    /// An integer of any size; precision is max(64, its bit length).
    pub fn from_bigint(v: &BigInt) -> Number {
        let prec = (v.bits() as u32).max(INT_PREC);
        let (sign, mag) = (v.sign(), v.magnitude().clone());
        round(sign == Sign::Minus, mag, 0, false, prec)
    }

    /// A float64, at 53 bits.
    pub fn from_f64(v: f64) -> Number {
        if v.is_infinite() {
            return Number::infinity(v < 0.0);
        }
        if v == 0.0 {
            return Number::zero(v.is_sign_negative(), F64_PREC);
        }
        let bits = v.to_bits();
        let neg = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, exp) = if biased == 0 { (frac, -1074) } else { (frac | (1u64 << 52), biased - 1075) };
        round(neg, BigUint::from(mant), exp, false, F64_PREC)
    }

    /// Parses decimal text the way Terraform's string-to-number conversion
    /// does: optional sign, digits, optional fraction and exponent, or
    /// `Inf`/`+Inf`/`-Inf`. Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Number> {
        let (neg, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if rest.eq_ignore_ascii_case("inf") || rest.eq_ignore_ascii_case("infinity") {
            return Some(Number::infinity(neg));
        }
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut digits = String::new();
        let mut frac_len: i64 = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            digits.push(bytes[i] as char);
            i += 1;
        }
        let int_len = digits.len();
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                digits.push(bytes[i] as char);
                frac_len += 1;
                i += 1;
            }
        }
        if digits.is_empty() || (int_len == 0 && frac_len == 0) {
            return None;
        }
        let mut exp10: i64 = 0;
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            i += 1;
            let mut eneg = false;
            if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                eneg = bytes[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return None;
            }
            let e: i64 = rest[start..i].parse().ok()?;
            exp10 = if eneg { -e } else { e };
        }
        if i != bytes.len() {
            return None;
        }
        let mant: BigUint = digits.parse().ok()?;
        let exp10 = exp10 - frac_len;
        // Decimal exponents this large would take unbounded time and memory
        // to expand; Terraform's floats overflow to infinity or underflow to
        // zero somewhat further out, which no configuration reaches.
        if !mant.is_zero() && (exp10 + digits.len() as i64) > MAX_DECIMAL_EXP {
            return Some(Number::infinity(neg));
        }
        if mant.is_zero() || exp10 < -MAX_DECIMAL_EXP {
            return Some(Number::zero(neg, PARSE_PREC));
        }
        Some(Number::from_decimal(neg, mant, exp10, PARSE_PREC))
    }

    /// `mant × 10^exp10`, rounded to `prec` bits.
    fn from_decimal(neg: bool, mant: BigUint, exp10: i64, prec: u32) -> Number {
        if mant.is_zero() {
            return Number::zero(neg, prec);
        }
        if exp10 >= 0 {
            let scaled = mant * BigUint::from(10u32).pow(exp10 as u32);
            round(neg, scaled, 0, false, prec)
        } else {
            let den = BigUint::from(10u32).pow((-exp10) as u32);
            ratio(neg, &mant, &den, 0, prec)
        }
    }

    /// The number's precision in bits (0 for infinities).
    pub fn prec(&self) -> u32 {
        self.prec
    }

    /// Is this number negative (including negative zero)?
    pub fn is_negative(&self) -> bool {
        self.neg
    }

    /// Is this number zero (either sign)?
    pub fn is_zero(&self) -> bool {
        self.kind == Kind::Zero
    }

    /// Is this number infinite?
    pub fn is_infinite(&self) -> bool {
        self.kind == Kind::Inf
    }

    /// Is this a whole number?
    pub fn is_integer(&self) -> bool {
        match &self.kind {
            Kind::Zero => true,
            Kind::Finite { exp, .. } => *exp >= 0,
            Kind::Inf => false,
        }
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i64 {
        match self.kind {
            Kind::Zero => 0,
            _ if self.neg => -1,
            _ => 1,
        }
    }

    /// The integer part, truncated toward zero (`None` for infinities).
    pub fn trunc_bigint(&self) -> Option<BigInt> {
        match &self.kind {
            Kind::Zero => Some(BigInt::zero()),
            Kind::Inf => None,
            Kind::Finite { mant, exp } => {
                let mag = if *exp >= 0 { mant << (*exp as usize) } else { mant >> ((-*exp) as usize) };
                Some(BigInt::from_biguint(if self.neg { Sign::Minus } else { Sign::Plus }, mag))
            }
        }
    }

    /// The value as an `i64` when it is a whole number in range.
    pub fn to_i64_exact(&self) -> Option<i64> {
        if !self.is_integer() {
            return None;
        }
        self.trunc_bigint()?.to_i64()
    }

    /// The value truncated toward zero as an `i64` (saturating).
    pub fn to_i64_trunc(&self) -> i64 {
        match self.trunc_bigint() {
            Some(i) => i.to_i64().unwrap_or(if self.neg { i64::MIN } else { i64::MAX }),
            None if self.neg => i64::MIN,
            None => i64::MAX,
        }
    }

    /// The nearest float64.
    pub fn to_f64(&self) -> f64 {
        let sign = if self.neg { -1.0 } else { 1.0 };
        match &self.kind {
            Kind::Zero => sign * 0.0,
            Kind::Inf => sign * f64::INFINITY,
            Kind::Finite { .. } => {
                let r = round(self.neg, self.mant_or_zero(), self.exp_or_zero(), false, F64_PREC);
                match r.kind {
                    Kind::Finite { mant, exp } => {
                        let mut v = mant.to_f64().unwrap_or(0.0);
                        let mut e = exp;
                        while e > 0 {
                            let step = e.min(1000);
                            v *= 2f64.powi(step as i32);
                            e -= step;
                        }
                        while e < 0 {
                            let step = (-e).min(1000);
                            v /= 2f64.powi(step as i32);
                            e += step;
                        }
                        sign * v
                    }
                    _ => sign * 0.0,
                }
            }
        }
    }

    fn mant_or_zero(&self) -> BigUint {
        match &self.kind {
            Kind::Finite { mant, .. } => mant.clone(),
            _ => BigUint::zero(),
        }
    }

    fn exp_or_zero(&self) -> i64 {
        match &self.kind {
            Kind::Finite { exp, .. } => *exp,
            _ => 0,
        }
    }

    /// Unary minus.
    pub fn neg(&self) -> Number {
        Number { neg: !self.neg, kind: self.kind.clone(), prec: self.prec }
    }

    /// Absolute value.
    pub fn abs(&self) -> Number {
        Number { neg: false, kind: self.kind.clone(), prec: self.prec }
    }

    /// Sets the precision, rounding if it shrinks.
    pub fn with_prec(&self, prec: u32) -> Number {
        match &self.kind {
            Kind::Finite { mant, exp } => round(self.neg, mant.clone(), *exp, false, prec),
            _ => Number { prec, ..self.clone() },
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Number) -> Result<Number, NotANumber> {
        let prec = self.prec.max(other.prec);
        match (&self.kind, &other.kind) {
            (Kind::Inf, Kind::Inf) if self.neg != other.neg => Err(NotANumber),
            (Kind::Inf, _) => Ok(Number::infinity(self.neg)),
            (_, Kind::Inf) => Ok(Number::infinity(other.neg)),
            (Kind::Zero, Kind::Zero) => Ok(Number::zero(self.neg && other.neg, prec)),
            (Kind::Zero, _) => Ok(other.with_prec(prec)),
            (_, Kind::Zero) => Ok(self.with_prec(prec)),
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                let e = (*ea).min(*eb);
                let a = ma << ((ea - e) as usize);
                let b = mb << ((eb - e) as usize);
                if self.neg == other.neg {
                    Ok(round(self.neg, a + b, e, false, prec))
                } else {
                    match a.cmp(&b) {
                        Ordering::Equal => Ok(Number::zero(false, prec)),
                        Ordering::Greater => Ok(round(self.neg, a - b, e, false, prec)),
                        Ordering::Less => Ok(round(other.neg, b - a, e, false, prec)),
                    }
                }
            }
        }
    }

    /// `self - other`.
    pub fn sub(&self, other: &Number) -> Result<Number, NotANumber> {
        self.add(&other.neg())
    }

    /// `self × other`.
    pub fn mul(&self, other: &Number) -> Result<Number, NotANumber> {
        let prec = self.prec.max(other.prec);
        let neg = self.neg != other.neg;
        match (&self.kind, &other.kind) {
            (Kind::Inf, Kind::Zero) | (Kind::Zero, Kind::Inf) => Err(NotANumber),
            (Kind::Inf, _) | (_, Kind::Inf) => Ok(Number::infinity(neg)),
            (Kind::Zero, _) | (_, Kind::Zero) => Ok(Number::zero(neg, prec)),
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                // Terraform multiplies at 512 bits and keeps as many bits as
                // the product needs (at least the operands' precision).
                let product = round(neg, ma * mb, ea + eb, false, PARSE_PREC.max(prec));
                let min_prec = match &product.kind {
                    Kind::Finite { mant, .. } => mant.bits() as u32,
                    _ => 0,
                };
                Ok(Number { prec: prec.max(min_prec), ..product })
            }
        }
    }

    /// `self ÷ other`; a finite number divided by zero is infinite.
    pub fn div(&self, other: &Number) -> Result<Number, NotANumber> {
        let prec = self.prec.max(other.prec);
        let neg = self.neg != other.neg;
        match (&self.kind, &other.kind) {
            (Kind::Zero, Kind::Zero) | (Kind::Inf, Kind::Inf) => Err(NotANumber),
            (Kind::Inf, _) | (_, Kind::Zero) => Ok(Number::infinity(neg)),
            (Kind::Zero, _) | (_, Kind::Inf) => Ok(Number::zero(neg, prec)),
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                Ok(ratio(neg, ma, mb, ea - eb, prec))
            }
        }
    }

    /// Terraform's `%`: `a - trunc(a/b) × b`; not defined for infinities.
    pub fn rem(&self, other: &Number) -> Result<Number, NotANumber> {
        if self.is_infinite() || other.is_infinite() {
            return Err(NotANumber);
        }
        let q = self.div(other)?;
        let whole = match q.trunc_bigint() {
            Some(i) => i,
            None => BigInt::zero(),
        };
        let work = Number::from_bigint(&whole);
        let work = Number { prec: work.prec.max(self.prec.max(other.prec)), ..work };
        let product = work.mul(other)?;
        self.sub(&product)
    }

    /// Largest integer ≤ self.
    pub fn floor(&self) -> Number {
        self.round_to_int(true)
    }

    /// Smallest integer ≥ self.
    pub fn ceil(&self) -> Number {
        self.round_to_int(false)
    }

    fn round_to_int(&self, down: bool) -> Number {
        if self.is_integer() || self.is_infinite() {
            return self.clone();
        }
        let Some(t) = self.trunc_bigint() else { return self.clone() };
        let t = if down && self.neg {
            t - 1
        } else if !down && !self.neg {
            t + 1
        } else {
            t
        };
        Number::from_bigint(&t)
    }

    /// Numeric comparison (-0 equals +0).
    pub fn cmp_value(&self, other: &Number) -> Ordering {
        let sa = self.signum_with_inf();
        let sb = other.signum_with_inf();
        if sa != sb {
            return sa.cmp(&sb);
        }
        match (&self.kind, &other.kind) {
            (Kind::Zero, Kind::Zero) | (Kind::Inf, Kind::Inf) => Ordering::Equal,
            (Kind::Inf, _) => {
                if self.neg {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, Kind::Inf) => {
                if other.neg {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                let e = (*ea).min(*eb);
                let a = ma << ((ea - e) as usize);
                let b = mb << ((eb - e) as usize);
                let mag = a.cmp(&b);
                if self.neg { mag.reverse() } else { mag }
            }
            _ => Ordering::Equal,
        }
    }

    fn signum_with_inf(&self) -> i8 {
        match self.kind {
            Kind::Zero => 0,
            _ if self.neg => -1,
            _ => 1,
        }
    }

    /// The exact decimal expansion (digits, point position): value =
    /// 0.digits × 10^point.
    fn exact_decimal(&self) -> Decimal {
        match &self.kind {
            Kind::Finite { mant, exp } => Decimal::from_binary(mant, *exp),
            _ => Decimal { digits: Vec::new(), point: 0 },
        }
    }

    /// The text Terraform prints: the shortest decimal that rounds back to
    /// this value at its precision, never in exponent form (`1e3` → `1000`),
    /// `+Inf`/`-Inf` for infinities.
    pub fn to_text(&self) -> String {
        if self.kind == Kind::Inf {
            return if self.neg { "-Inf".to_owned() } else { "+Inf".to_owned() };
        }
        let mut d = self.exact_decimal();
        if let Kind::Finite { mant, exp } = &self.kind {
            round_shortest(&mut d, mant, *exp, self.prec);
        }
        let frac = (d.digits.len() as i64 - d.point).max(0) as usize;
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        fmt_f(&mut out, &d, frac);
        out
    }

    /// `%.<prec>f`: fixed point with exactly `prec` digits after the point,
    /// rounded half to even on the exact binary value.
    pub fn to_fixed(&self, prec: usize) -> String {
        if self.kind == Kind::Inf {
            return if self.neg { "-Inf".to_owned() } else { "+Inf".to_owned() };
        }
        let mut d = self.exact_decimal();
        let at = d.point + prec as i64;
        d.round(at);
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        fmt_f(&mut out, &d, prec);
        out
    }

    /// `%g` without a precision: the shortest digits, in `%e` form when the
    /// exponent is below -4 or at least 6 (Go's rule), else `%f` form.
    pub fn to_shortest_g(&self) -> String {
        if self.kind == Kind::Inf {
            return if self.neg { "-Inf".to_owned() } else { "+Inf".to_owned() };
        }
        let mut d = self.exact_decimal();
        if let Kind::Finite { mant, exp } = &self.kind {
            round_shortest(&mut d, mant, *exp, self.prec);
        }
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        let exp = d.point - 1;
        if !d.digits.is_empty() && !(-4..6).contains(&exp) {
            out.push(d.digits[0] as char);
            if d.digits.len() > 1 {
                out.push('.');
                out.extend(d.digits[1..].iter().map(|&b| b as char));
            }
            out.push('e');
            out.push(if exp < 0 { '-' } else { '+' });
            let e = exp.unsigned_abs();
            if e < 10 {
                out.push('0');
            }
            out.push_str(&e.to_string());
        } else {
            let frac = (d.digits.len() as i64 - d.point).max(0) as usize;
            fmt_f(&mut out, &d, frac);
        }
        out
    }

    /// `%.<prec>e`: one digit, point, `prec` digits, `e±dd`.
    pub fn to_exponent(&self, prec: usize, upper: bool) -> String {
        if self.kind == Kind::Inf {
            return if self.neg { "-Inf".to_owned() } else { "+Inf".to_owned() };
        }
        let mut d = self.exact_decimal();
        d.round(1 + prec as i64);
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        let first = d.digits.first().copied().unwrap_or(b'0');
        out.push(first as char);
        if prec > 0 {
            out.push('.');
            for i in 1..=prec {
                out.push(d.at(i) as char);
            }
        }
        let exp = if d.digits.is_empty() { 0 } else { d.point - 1 };
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
        out
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_value(other) == Ordering::Equal
    }
}

/// Rounds `mant × 2^exp` (plus a sticky "something below" bit) to `prec`
/// bits, to nearest with ties to even.
fn round(neg: bool, mant: BigUint, exp: i64, sticky: bool, prec: u32) -> Number {
    if mant.is_zero() {
        return Number::zero(neg, prec);
    }
    let bits = mant.bits();
    let (mut mant, mut exp) = (mant, exp);
    if prec > 0 && bits > u64::from(prec) {
        let shift = bits - u64::from(prec);
        let dropped = &mant & ((BigUint::one() << shift) - BigUint::one());
        let half = BigUint::one() << (shift - 1);
        let mut kept = &mant >> shift;
        let up = match dropped.cmp(&half) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => sticky || kept.is_odd(),
        };
        if up {
            kept += 1u32;
        }
        mant = kept;
        exp += shift as i64;
    }
    let tz = mant.trailing_zeros().unwrap_or(0);
    if tz > 0 {
        mant >>= tz;
        exp += tz as i64;
    }
    Number { neg, kind: Kind::Finite { mant, exp }, prec }
}

/// `(a / b) × 2^exp`, rounded to `prec` bits.
fn ratio(neg: bool, a: &BigUint, b: &BigUint, exp: i64, prec: u32) -> Number {
    let need = i64::from(prec) + 2 + b.bits() as i64 - a.bits() as i64;
    let shift = need.max(0) as usize;
    let (q, r) = (a << shift).div_rem(b);
    round(neg, q, exp - shift as i64, !r.is_zero(), prec)
}

/// A decimal digit string: value = 0.d1d2d3… × 10^point.
struct Decimal {
    digits: Vec<u8>,
    point: i64,
}

impl Decimal {
    fn from_binary(mant: &BigUint, exp: i64) -> Decimal {
        let (text, point) = if exp >= 0 {
            let s = (mant << (exp as usize)).to_str_radix(10);
            let len = s.len() as i64;
            (s, len)
        } else {
            let k = (-exp) as u32;
            let s = (mant * BigUint::from(5u32).pow(k)).to_str_radix(10);
            let len = s.len() as i64;
            (s, len - i64::from(k))
        };
        let mut digits = text.into_bytes();
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        if digits.is_empty() {
            return Decimal { digits, point: 0 };
        }
        Decimal { digits, point }
    }

    fn at(&self, i: usize) -> u8 {
        self.digits.get(i).copied().unwrap_or(b'0')
    }

    /// Rounds to `n` digits, half to even (on this exact decimal).
    fn round(&mut self, n: i64) {
        if n < 0 || n as usize >= self.digits.len() {
            if n < 0 {
                self.digits.clear();
                self.point = 0;
            }
            return;
        }
        let n = n as usize;
        let up = if self.digits[n] == b'5' && n + 1 == self.digits.len() {
            n > 0 && (self.digits[n - 1] - b'0') % 2 == 1
        } else {
            self.digits[n] >= b'5'
        };
        if up { self.round_up(n) } else { self.round_down(n) }
    }

    fn round_down(&mut self, n: usize) {
        self.digits.truncate(n);
        self.trim();
    }

    fn round_up(&mut self, n: usize) {
        let mut i = n;
        while i > 0 && self.digits[i - 1] >= b'9' {
            i -= 1;
        }
        if i == 0 {
            self.digits.clear();
            self.digits.push(b'1');
            self.point += 1;
            return;
        }
        self.digits[i - 1] += 1;
        self.digits.truncate(i);
    }

    fn trim(&mut self) {
        while self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
        if self.digits.is_empty() {
            self.point = 0;
        }
    }
}

/// Shortens `d` to the fewest digits that still round to the same binary
/// value at `prec` bits (the half-ulp interval, inclusive when the mantissa
/// is even).
fn round_shortest(d: &mut Decimal, mant: &BigUint, exp: i64, prec: u32) {
    if d.digits.is_empty() {
        return;
    }
    let bits = mant.bits() as i64;
    let s = i64::from(prec) + 1 - bits;
    let (m, e) = if s >= 0 { (mant << (s as usize), exp - s) } else { (mant >> ((-s) as usize), exp - s) };
    let lower = Decimal::from_binary(&(&m - 1u32), e);
    let upper = Decimal::from_binary(&(&m + 1u32), e);
    let inclusive = !m.bit(1);
    // Like Go's math/big, the bounds are compared digit by digit from their
    // first digits, without aligning decimal points.
    let digit_at = |dec: &Decimal, i: usize| -> u8 { dec.at(i) };
    let len_in_d = |dec: &Decimal| -> i64 { dec.digits.len() as i64 };
    for i in 0..d.digits.len() {
        let l = digit_at(&lower, i);
        let mm = d.digits[i];
        let u = digit_at(&upper, i);
        let okdown = l != mm || inclusive && (i as i64) + 1 == len_in_d(&lower);
        let okup = mm != u && (inclusive || mm + 1 < u || (i as i64) + 1 < len_in_d(&upper));
        if okdown && okup {
            d.round(i as i64 + 1);
            return;
        } else if okdown {
            d.round_down(i + 1);
            return;
        } else if okup {
            d.round_up(i + 1);
            return;
        }
    }
}

/// `ddd.ddd` with `frac` digits after the point.
fn fmt_f(out: &mut String, d: &Decimal, frac: usize) {
    if d.point > 0 {
        let m = (d.digits.len() as i64).min(d.point) as usize;
        out.extend(d.digits[..m].iter().map(|&b| b as char));
        for _ in m as i64..d.point {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
        for i in 0..frac as i64 {
            let idx = d.point + i;
            out.push(if idx < 0 { '0' } else { d.at(idx as usize) as char });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> Number {
        Number::parse(s).expect("number")
    }

    #[test]
    fn prints_like_terraform() {
        assert_eq!(p("42").to_text(), "42");
        assert_eq!(p("3.14159").to_text(), "3.14159");
        assert_eq!(p("1e3").to_text(), "1000");
        assert_eq!(p("-0").to_text(), "-0");
        assert_eq!(p("0.1").add(&p("0.2")).unwrap().to_text(), "0.3");
        let third = p("1").div(&p("3")).unwrap().to_text();
        assert_eq!(third.len(), 157);
        assert!(third.ends_with("335"), "{third}");
        assert_eq!(Number::from_f64(2f64.powi(64)).to_text(), "18446744073709550000");
        assert_eq!(p("100000000000000000000000").add(&p("1")).unwrap().to_text(), "100000000000000000000001");
        assert_eq!(p("2").div(&p("0")).unwrap().to_text(), "+Inf");
        assert_eq!(p("0.001").to_text(), "0.001");
        assert_eq!(Number::from_i64(2).div(&Number::from_i64(3)).unwrap().to_text(), "0.6666666666666666667");
    }

    #[test]
    fn huge_exponents_do_not_expand() {
        assert_eq!(p("1e999999999").to_text(), "+Inf");
        assert_eq!(p("-1e999999999").to_text(), "-Inf");
        assert_eq!(p("1e-999999999").to_text(), "0");
        assert_eq!(p("1e400").to_text().len(), 401);
    }

    #[test]
    fn remainder_truncates() {
        assert_eq!(p("-7").rem(&p("3")).unwrap().to_text(), "-1");
        assert_eq!(p("5").rem(&p("0")).unwrap().to_text(), "5");
        assert!(p("0").div(&p("0")).is_err());
    }

    #[test]
    fn fixed_and_exponent() {
        assert_eq!(p("3.14159").to_fixed(2), "3.14");
        assert_eq!(p("2.5").to_fixed(0), "2");
        assert_eq!(p("1234.5").to_exponent(2, false), "1.23e+03");
        assert_eq!(p("-1.5").floor().to_text(), "-2");
        assert_eq!(p("1.2").ceil().to_text(), "2");
    }
}
