//! The invoker's side of concurrency settings: reserved concurrency
//! (`Put/Get/DeleteFunctionConcurrency`), provisioned concurrency configs
//! and the environments they keep initialised, and restoring both after a
//! restart. The decisions are the concurrency core's; this applies them.

use super::*;

impl Invoker {
    /// Starts the environments that provisioned-concurrency configs lack,
    /// and shuts down `surplus` ones (from a lowered or deleted config).
    /// Each environment initialises ahead of traffic with
    /// `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`.
    pub fn reconcile_provisioned(self: &Arc<Self>, surplus: Vec<EnvId>) {
        for id in surplus {
            self.shut_down(id);
        }
        let deficits = self.core().provisioned_deficit();
        for deficit in deficits {
            let version = match self.control.resolve(&deficit.function, Some(&deficit.version), 0.0) {
                Ok(resolved) => resolved.version,
                Err(err) => {
                    tracing::warn!(function = deficit.function, version = deficit.version, error = %err, "cannot provision");
                    continue;
                }
            };
            for _ in 0..deficit.missing {
                let start = self.core().start_provisioned(&deficit.function, &deficit.qualifier, version.memory_mb);
                let start = match start {
                    Ok(start) => start,
                    Err(err) => {
                        tracing::warn!(function = deficit.function, qualifier = deficit.qualifier, error = %err, "cannot provision");
                        break;
                    }
                };
                for evicted in start.evicted {
                    self.shut_down(evicted);
                }
                let invoker = Arc::clone(self);
                let version = Arc::clone(&version);
                tokio::spawn(async move {
                    let env = start.env;
                    match invoker.start_environment(env, version, "provisioned-concurrency").await {
                        Ok(live) => {
                            let deadline = live.started_at + PROVISIONED_INIT_TIMEOUT;
                            if let Err(failure) = invoker.wait_init(&live, deadline, false).await {
                                let reason = match failure {
                                    InitFailure::Ending(Ending::Fatal { payload, .. }) => payload.to_string(),
                                    _ => "init timed out".to_owned(),
                                };
                                tracing::warn!(env = %env, reason, "provisioned environment failed to initialise");
                                invoker.core().remove(env);
                                invoker.shut_down(env);
                            }
                        }
                        Err(err) => {
                            tracing::warn!(env = %env, error = %err, "cannot start a provisioned environment");
                            invoker.core().remove(env);
                        }
                    }
                });
            }
        }
    }

    /// Loads reserved and provisioned concurrency from the control plane's
    /// records into the core and starts provisioned environments (daemon
    /// start: every environment starts cold, provisioned ones initialise).
    pub fn restore_concurrency(self: &Arc<Self>) {
        for (function, reserved) in self.control.all_reserved_concurrency() {
            if let Err(err) = self.core().put_reserved_concurrency(&function, reserved) {
                tracing::warn!(function, reserved, error = %err, "stored reserved concurrency no longer fits");
            }
        }
        for config in self.control.all_provisioned_concurrency() {
            let version = match self.control.resolve(&config.function_name, Some(&config.qualifier), 0.0) {
                Ok(resolved) => resolved.version.version.clone(),
                Err(err) => {
                    tracing::warn!(function = config.function_name, error = %err, "stored provisioned concurrency is dangling");
                    continue;
                }
            };
            let put = self.core().put_provisioned_concurrency(
                &config.function_name,
                &config.qualifier,
                &version,
                config.requested,
            );
            if let Err(err) = put {
                tracing::warn!(function = config.function_name, error = %err, "stored provisioned concurrency no longer fits");
            }
        }
        self.reconcile_provisioned(Vec::new());
    }

    /// `PutFunctionConcurrency`: validated against the account by the core,
    /// then stored, then applied.
    pub fn put_function_concurrency(&self, function_name: &str, reserved: u32) -> Result<u32, LambdaError> {
        let name = self.control.resolve(function_name, None, 0.0)?.version.function_name.clone();
        let previous = self.core().reserved_concurrency(&name);
        self.core().put_reserved_concurrency(&name, reserved).map_err(config_error)?;
        if let Err(err) = self.control.set_reserved_concurrency(&name, Some(reserved)) {
            let mut core = self.core();
            match previous {
                Some(previous) => {
                    let _ = core.put_reserved_concurrency(&name, previous);
                }
                None => core.delete_reserved_concurrency(&name),
            }
            return Err(err);
        }
        Ok(reserved)
    }

    /// `GetFunctionConcurrency`.
    pub fn function_concurrency(&self, function_name: &str) -> Result<Option<u32>, LambdaError> {
        self.control.reserved_concurrency(function_name)
    }

    /// `DeleteFunctionConcurrency`.
    pub fn delete_function_concurrency(&self, function_name: &str) -> Result<(), LambdaError> {
        let name = self.control.resolve(function_name, None, 0.0)?.version.function_name.clone();
        self.control.set_reserved_concurrency(&name, None)?;
        self.core().delete_reserved_concurrency(&name);
        Ok(())
    }

    /// `PutProvisionedConcurrencyConfig`: validated by the core, stored,
    /// then environments start initialising in the background.
    pub fn put_provisioned_concurrency(
        self: &Arc<Self>,
        function_name: &str,
        qualifier: &str,
        requested: u32,
    ) -> Result<ProvisionedConfigView, LambdaError> {
        let resolved = self.control.resolve(function_name, Some(qualifier), 0.0)?;
        let name = resolved.version.function_name.clone();
        let surplus = self
            .core()
            .put_provisioned_concurrency(&name, qualifier, &resolved.version.version, requested)
            .map_err(config_error)?;
        let record = self.control.put_provisioned_concurrency(&name, qualifier, requested)?;
        self.reconcile_provisioned(surplus);
        Ok(self.provisioned_view(&name, qualifier, record.last_modified))
    }

    /// `GetProvisionedConcurrencyConfig`.
    pub fn provisioned_concurrency(
        &self,
        function_name: &str,
        qualifier: &str,
    ) -> Result<ProvisionedConfigView, LambdaError> {
        let name = self.control.resolve(function_name, None, 0.0)?.version.function_name.clone();
        let configs = self.control.provisioned_concurrency(&name)?;
        let record = configs.get(qualifier).ok_or_else(provisioned_not_found)?;
        Ok(self.provisioned_view(&name, qualifier, record.last_modified))
    }

    /// `ListProvisionedConcurrencyConfigs`.
    pub fn list_provisioned_concurrency(&self, function_name: &str) -> Result<Vec<ProvisionedConfigView>, LambdaError> {
        let name = self.control.resolve(function_name, None, 0.0)?.version.function_name.clone();
        let configs = self.control.provisioned_concurrency(&name)?;
        Ok(configs
            .values()
            .map(|record| self.provisioned_view(&name, &record.qualifier, record.last_modified))
            .collect())
    }

    /// `DeleteProvisionedConcurrencyConfig`.
    pub fn delete_provisioned_concurrency(&self, function_name: &str, qualifier: &str) -> Result<(), LambdaError> {
        let name = self.control.resolve(function_name, None, 0.0)?.version.function_name.clone();
        if !self.control.delete_provisioned_concurrency(&name, qualifier)? {
            return Err(provisioned_not_found());
        }
        let surplus = self.core().delete_provisioned_concurrency(&name, qualifier);
        for id in surplus {
            self.shut_down(id);
        }
        Ok(())
    }

    fn provisioned_view(&self, function: &str, qualifier: &str, last_modified: Timestamp) -> ProvisionedConfigView {
        let status = self.core().provisioned_status(function, qualifier);
        ProvisionedConfigView {
            function_arn: self.control.scope().lambda_function_arn(function, Some(qualifier)).to_string(),
            requested: status.map_or(0, |s| s.requested),
            allocated: status.map_or(0, |s| s.allocated),
            available: status.map_or(0, |s| s.available),
            status: status.map_or("IN_PROGRESS", |s| s.status.as_str()),
            last_modified,
        }
    }
}

/// A provisioned-concurrency configuration as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedConfigView {
    pub function_arn: String,
    pub requested: u32,
    pub allocated: u32,
    pub available: u32,
    /// `IN_PROGRESS` or `READY`.
    pub status: &'static str,
    pub last_modified: Timestamp,
}

fn config_error(err: crate::concurrency::ConcurrencyConfigError) -> LambdaError {
    let error_type = match err.code() {
        "ValidationException" => ErrorType::ValidationException,
        "ResourceConflictException" => ErrorType::ResourceConflictException,
        _ => ErrorType::InvalidParameterValueException,
    };
    LambdaError::new(error_type, err.to_string())
}

fn provisioned_not_found() -> LambdaError {
    LambdaError::new(
        ErrorType::ProvisionedConcurrencyConfigNotFoundException,
        "No Provisioned Concurrency Config found for this function",
    )
}
