//! Integration tests of cloudlet-infra: the console against Terraform
//! 1.0.3 itself (the oracle).

mod oracle;
