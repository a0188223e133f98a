//! AWS-style identity: regions, account ids, the scope they form, and ARNs.
//!
//! cloudlet answers as one account in one region (by default `000000000000`
//! in `us-east-1`, like other local clouds), both configurable. Every ARN a
//! subsystem hands out is built here so the format is the same everywhere.

use std::fmt;
use std::str::FromStr;

/// An AWS region name such as `us-east-1`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition the region belongs to: `aws`, `aws-cn` or `aws-us-gov`.
    pub fn partition(&self) -> &'static str {
        if self.0.starts_with("cn-") {
            "aws-cn"
        } else if self.0.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }
}

impl Default for Region {
    fn default() -> Region {
        Region("us-east-1".to_owned())
    }
}

impl FromStr for Region {
    type Err = IdError;

    /// Accepts names shaped like AWS's: two lowercase letters, one or more
    /// lowercase words, and a number, joined by `-` (`eu-central-1`,
    /// `us-gov-west-1`, `ap-southeast-5`).
    fn from_str(s: &str) -> Result<Region, IdError> {
        let parts: Vec<&str> = s.split('-').collect();
        let well_formed = parts.len() >= 3
            && parts[0].len() == 2
            && parts[0].bytes().all(|b| b.is_ascii_lowercase())
            && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts.last().is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if well_formed { Ok(Region(s.to_owned())) } else { Err(IdError::Region { value: s.to_owned() }) }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A 12-digit AWS account id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AccountId {
    fn default() -> AccountId {
        AccountId("000000000000".to_owned())
    }
}

impl FromStr for AccountId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<AccountId, IdError> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_owned()))
        } else {
            Err(IdError::AccountId { value: s.to_owned() })
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The account and region this cloudlet answers as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsScope {
    pub region: Region,
    pub account_id: AccountId,
}

impl AwsScope {
    /// An ARN in this scope: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
    pub fn arn(&self, service: &str, resource: impl Into<String>) -> Arn {
        Arn {
            partition: self.region.partition().to_owned(),
            service: service.to_owned(),
            region: self.region.as_str().to_owned(),
            account_id: self.account_id.as_str().to_owned(),
            resource: resource.into(),
        }
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`, with `:QUALIFIER` when
    /// a version or alias is given.
    pub fn lambda_function_arn(&self, name: &str, qualifier: Option<&str>) -> Arn {
        match qualifier {
            Some(qualifier) => self.arn("lambda", format!("function:{name}:{qualifier}")),
            None => self.arn("lambda", format!("function:{name}")),
        }
    }

    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    pub fn sqs_queue_arn(&self, name: &str) -> Arn {
        self.arn("sqs", name)
    }
}

/// An Amazon Resource Name.
///
/// The resource part is kept whole (`function:NAME:QUALIFIER`,
/// `event-source-mapping:UUID`, a queue name): each service gives it its own
/// structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account_id: String,
    pub resource: String,
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:{}:{}:{}:{}:{}", self.partition, self.service, self.region, self.account_id, self.resource)
    }
}

impl FromStr for Arn {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Arn, IdError> {
        let malformed = || IdError::Arn { value: s.to_owned() };
        let mut parts = s.splitn(6, ':');
        if parts.next() != Some("arn") {
            return Err(malformed());
        }
        let mut next = || parts.next().map(str::to_owned).ok_or_else(malformed);
        let arn = Arn { partition: next()?, service: next()?, region: next()?, account_id: next()?, resource: next()? };
        if arn.partition.is_empty() || arn.service.is_empty() || arn.resource.is_empty() {
            return Err(malformed());
        }
        Ok(arn)
    }
}

/// A malformed identifier, naming the value and what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("invalid region `{value}`: expected a name like `us-east-1`")]
    Region { value: String },
    #[error("invalid account id `{value}`: expected 12 digits, like `000000000000`")]
    AccountId { value: String },
    #[error("invalid ARN `{value}`: expected `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`")]
    Arn { value: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scope_arns() {
        let scope = AwsScope::default();
        assert_eq!(
            scope.lambda_function_arn("my-fn", None).to_string(),
            "arn:aws:lambda:us-east-1:000000000000:function:my-fn"
        );
        assert_eq!(
            scope.lambda_function_arn("my-fn", Some("prod")).to_string(),
            "arn:aws:lambda:us-east-1:000000000000:function:my-fn:prod"
        );
        assert_eq!(scope.sqs_queue_arn("jobs.fifo").to_string(), "arn:aws:sqs:us-east-1:000000000000:jobs.fifo");
    }

    #[test]
    fn configured_scope_and_partitions() {
        let scope = AwsScope {
            region: "eu-west-2".parse().expect("region"),
            account_id: "123456789012".parse().expect("account"),
        };
        assert_eq!(
            scope.lambda_function_arn("f", Some("7")).to_string(),
            "arn:aws:lambda:eu-west-2:123456789012:function:f:7"
        );
        let region: Region = "cn-north-1".parse().expect("region");
        assert_eq!(region.partition(), "aws-cn");
        let region: Region = "us-gov-west-1".parse().expect("region");
        assert_eq!(region.partition(), "aws-us-gov");
    }

    #[test]
    fn bad_ids_are_named() {
        for bad in ["", "useast1", "US-EAST-1", "us-east", "us--1", "u-east-1", "us-east-x"] {
            let err = bad.parse::<Region>().expect_err(bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
        for bad in ["", "12345678901", "1234567890123", "00000000000a"] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn arn_round_trip() {
        let text = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST";
        let arn: Arn = text.parse().expect("arn");
        assert_eq!(arn.service, "lambda");
        assert_eq!(arn.resource, "function:f:$LATEST");
        assert_eq!(arn.to_string(), text);
        // S3 ARNs have an empty region and account.
        let s3: Arn = "arn:aws:s3:::bucket/key".parse().expect("s3 arn");
        assert_eq!(s3.resource, "bucket/key");
        for bad in ["", "arn:aws:lambda", "nra:aws:sqs:r:a:q", "arn::sqs:r:a:q", "arn:aws:sqs:r:a:"] {
            assert!(bad.parse::<Arn>().is_err(), "{bad}");
        }
    }
}
