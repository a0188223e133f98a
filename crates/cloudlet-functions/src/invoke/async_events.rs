//! Asynchronous invocation: the durable event queue's worker, one attempt
//! at a time under the function's `EventInvokeConfig` (retries, maximum
//! event age), and what ends an event — its OnSuccess/OnFailure destination
//! (an SQS queue or a function) and its dead-letter queue. Also the
//! `*FunctionEventInvokeConfig*` operations that keep those settings.

use super::*;

impl Invoker {
    pub(super) fn schedule_event(&self, event: QueuedEvent) {
        lock(&self.event_schedule).insert((event.not_before, event.id.clone()), event);
        self.events_changed.notify_one();
    }

    /// One attempt at an asynchronous invocation, and what follows from it
    /// under the function's [`EventInvokeConfig`]: a retry (function errors
    /// after 1 and 2 minutes; throttles and failures to start with
    /// back-off), or the end, delivered to the OnSuccess/OnFailure
    /// destination.
    async fn attempt_event(self: Arc<Self>, event: QueuedEvent) {
        let qualifier = event.qualifier.clone().unwrap_or_else(|| crate::model::LATEST.to_owned());
        let config = self.event_invoke_config(&event.function_name, &qualifier);
        let resolved = self.control.resolve(&event.function_name, event.qualifier.as_deref(), 0.0);
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(err) => {
                tracing::warn!(event = event.id, function = event.function_name, error = %err, "asynchronous invocation dropped");
                self.forget_event(&event.id).await;
                return;
            }
        };
        let payload = event.payload.clone().into_bytes();
        let result = self.execute(&resolved, payload, false, None, event.id.clone()).await;
        let now = self.clock.now();
        let (next, attempts, invocations, last_response) = match result {
            Ok(output) => {
                let invocations = event.invocations + 1;
                let failed = output.function_error.is_some();
                let payload = serde_json::from_slice(&output.payload)
                    .unwrap_or_else(|_| serde_json::Value::from(String::from_utf8_lossy(&output.payload).into_owned()));
                let response = LastResponse {
                    executed_version: output.executed_version.unwrap_or_default(),
                    function_error: output.function_error.map(str::to_owned),
                    payload,
                };
                let next = after_invocation(&config, failed, invocations, event.enqueued_at, now);
                (next, event.attempts, invocations, Some(response))
            }
            Err(err) => {
                tracing::debug!(event = event.id, error = %err, "asynchronous invocation throttled or not started");
                let attempts = event.attempts + 1;
                (after_throttle(&config, attempts, event.enqueued_at, now), attempts, event.invocations, None)
            }
        };
        match next {
            NextStep::RetryAt(not_before) => {
                let events = Arc::clone(&self.events);
                let id = event.id.clone();
                let stored =
                    tokio::task::spawn_blocking(move || events.reschedule(&id, attempts, invocations, not_before))
                        .await;
                if !matches!(stored, Ok(Ok(()))) {
                    tracing::warn!(event = event.id, "cannot record the event's retry; it stays due");
                }
                self.schedule_event(QueuedEvent { attempts, invocations, not_before, ..event });
            }
            NextStep::Finished(condition) => {
                let destination = match condition {
                    Condition::Success => config.on_success.as_deref(),
                    _ => config.on_failure.as_deref(),
                };
                if let Some(destination) = destination {
                    let request_payload = serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null);
                    let record = invocation_record(
                        &event.id,
                        &self.control.scope().lambda_function_arn(&event.function_name, Some(&qualifier)).to_string(),
                        condition,
                        invocations.max(1),
                        &request_payload,
                        last_response.as_ref(),
                        now,
                    );
                    self.deliver(destination, &record).await;
                }
                if condition != Condition::Success
                    && let Some(dead_letter) = resolved.version.dead_letter_target_arn.as_deref()
                {
                    self.send_to_dead_letter_queue(dead_letter, &event, last_response.as_ref()).await;
                }
                if condition != Condition::Success {
                    tracing::info!(
                        event = event.id,
                        function = event.function_name,
                        condition = condition.as_str(),
                        "asynchronous invocation failed"
                    );
                }
                self.forget_event(&event.id).await;
            }
        }
    }

    /// Sends an invocation record to an SQS queue or (as an asynchronous
    /// invocation) to a function.
    async fn deliver(self: &Arc<Self>, destination: &str, record: &serde_json::Value) {
        let delivered = if destination.split(':').nth(2) == Some("lambda") {
            let input = InvokeInput {
                function_name: destination.to_owned(),
                qualifier: None,
                invocation_type: InvocationType::Event,
                tail_log: false,
                payload: record.to_string().into_bytes(),
                client_context: None,
            };
            Box::pin(self.invoke(input)).await.map(drop).map_err(|err| err.to_string())
        } else {
            match self.queues.get() {
                Some(queues) => queues
                    .send_to_arn(destination, record.to_string(), std::collections::BTreeMap::new())
                    .await
                    .map(drop)
                    .map_err(|err| err.to_string()),
                None => Err("no queue service is running".to_owned()),
            }
        };
        if let Err(err) = delivered {
            self.metrics
                .counter(
                    "cloudlet_lambda_destination_delivery_failures_total",
                    "Invocation records that could not be delivered to their destination.",
                    &[],
                )
                .inc();
            tracing::warn!(destination, error = err, "cannot deliver an invocation record");
        }
    }

    /// A failed event goes to the function's dead-letter queue as it was
    /// sent, with the attributes `RequestID`, `ErrorCode` (the invoke's HTTP
    /// status: 200 when the function ran and failed, 429 when it was
    /// throttled to the end) and `ErrorMessage` (its first 1 KB).
    async fn send_to_dead_letter_queue(&self, queue_arn: &str, event: &QueuedEvent, last: Option<&LastResponse>) {
        use cloudlet_queues::MessageAttributeValue;
        let (code, message) = match last {
            Some(response) => {
                let message = response.payload.get("errorMessage").and_then(serde_json::Value::as_str);
                ("200", message.map_or_else(|| response.payload.to_string(), str::to_owned))
            }
            None => ("429", "Rate Exceeded.".to_owned()),
        };
        let mut message = message;
        if message.len() > 1024 {
            let mut end = 1024;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let attribute = |data_type: &str, value: String| MessageAttributeValue {
            data_type: data_type.to_owned(),
            string_value: Some(value),
            binary_value: None,
        };
        let attributes = std::collections::BTreeMap::from([
            ("RequestID".to_owned(), attribute("String", event.id.clone())),
            ("ErrorCode".to_owned(), attribute("Number", code.to_owned())),
            ("ErrorMessage".to_owned(), attribute("String", message)),
        ]);
        let sent = match self.queues.get() {
            Some(queues) => queues
                .send_to_arn(queue_arn, event.payload.clone(), attributes)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            None => Err("no queue service is running".to_owned()),
        };
        if let Err(err) = sent {
            self.metrics
                .counter("cloudlet_lambda_dead_letter_errors_total", "Events that could not be sent to their DLQ.", &[])
                .inc();
            tracing::warn!(
                event = event.id,
                queue_arn,
                error = err,
                "cannot send a failed event to its dead-letter queue"
            );
        }
    }

    async fn forget_event(&self, id: &str) {
        let events = Arc::clone(&self.events);
        let owned = id.to_owned();
        let removed = tokio::task::spawn_blocking(move || events.remove(&owned)).await;
        if !matches!(removed, Ok(Ok(()))) {
            tracing::warn!(event = id, "cannot remove a finished event from the queue");
        }
    }

    /// Wires in the queue service for SQS destinations (once).
    pub fn set_queues(&self, queues: Arc<cloudlet_queues::Queues>) {
        let _ = self.queues.set(queues);
    }

    /// The settings that apply to asynchronous invocations of `qualifier`.
    fn event_invoke_config(&self, function_name: &str, qualifier: &str) -> EventInvokeConfig {
        lock(&self.event_configs)
            .get(&(function_name.to_owned(), qualifier.to_owned()))
            .cloned()
            .unwrap_or_else(|| EventInvokeConfig::defaults(function_name, qualifier))
    }

    /// `PutFunctionEventInvokeConfig` (`replace`: unspecified settings
    /// return to their defaults) and `UpdateFunctionEventInvokeConfig`.
    pub fn put_event_invoke_config(
        &self,
        function_name: &str,
        qualifier: Option<&str>,
        change: &EventInvokeConfigChange,
        replace: bool,
    ) -> Result<(EventInvokeConfig, String), LambdaError> {
        let resolved = self.control.resolve(function_name, qualifier, 0.0)?;
        let name = resolved.version.function_name.clone();
        let qualifier = qualifier.unwrap_or(crate::model::LATEST).to_owned();
        let key = (name.clone(), qualifier.clone());
        let existing = lock(&self.event_configs).get(&key).cloned();
        if !replace && existing.is_none() {
            return Err(self.no_event_invoke_config(&name, &qualifier));
        }
        let base = match existing {
            Some(existing) if !replace => existing,
            _ => EventInvokeConfig::defaults(&name, &qualifier),
        };
        let config = apply_change(base, change, self.clock.now())?;
        self.event_configs_store
            .put_event_invoke_config(&config)
            .map_err(|err| LambdaError::service(cloudlet_core::ErrorChain(&err).to_string()))?;
        lock(&self.event_configs).insert(key, config.clone());
        let arn = self.control.scope().lambda_function_arn(&name, Some(&qualifier)).to_string();
        Ok((config, arn))
    }

    /// `GetFunctionEventInvokeConfig`.
    pub fn get_event_invoke_config(
        &self,
        function_name: &str,
        qualifier: Option<&str>,
    ) -> Result<(EventInvokeConfig, String), LambdaError> {
        let name = self.control.resolve(function_name, qualifier, 0.0)?.version.function_name.clone();
        let qualifier = qualifier.unwrap_or(crate::model::LATEST).to_owned();
        let config = lock(&self.event_configs).get(&(name.clone(), qualifier.clone())).cloned();
        let config = config.ok_or_else(|| self.no_event_invoke_config(&name, &qualifier))?;
        let arn = self.control.scope().lambda_function_arn(&name, Some(&qualifier)).to_string();
        Ok((config, arn))
    }

    /// `DeleteFunctionEventInvokeConfig`.
    pub fn delete_event_invoke_config(&self, function_name: &str, qualifier: Option<&str>) -> Result<(), LambdaError> {
        let name = self.control.resolve(function_name, qualifier, 0.0)?.version.function_name.clone();
        let qualifier = qualifier.unwrap_or(crate::model::LATEST).to_owned();
        if !lock(&self.event_configs).contains_key(&(name.clone(), qualifier.clone())) {
            return Err(self.no_event_invoke_config(&name, &qualifier));
        }
        self.event_configs_store
            .delete_event_invoke_config(&name, &qualifier)
            .map_err(|err| LambdaError::service(cloudlet_core::ErrorChain(&err).to_string()))?;
        lock(&self.event_configs).remove(&(name, qualifier));
        Ok(())
    }

    /// `ListFunctionEventInvokeConfigs`: every qualifier's settings.
    pub fn list_event_invoke_configs(
        &self,
        function_name: &str,
    ) -> Result<Vec<(EventInvokeConfig, String)>, LambdaError> {
        let name = self.control.resolve(function_name, None, 0.0)?.version.function_name.clone();
        let mut configs: Vec<EventInvokeConfig> =
            lock(&self.event_configs).values().filter(|c| c.function_name == name).cloned().collect();
        configs.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        let scope = self.control.scope();
        Ok(configs
            .into_iter()
            .map(|config| {
                let arn = scope.lambda_function_arn(&name, Some(&config.qualifier)).to_string();
                (config, arn)
            })
            .collect())
    }

    fn no_event_invoke_config(&self, function_name: &str, qualifier: &str) -> LambdaError {
        let arn = self.control.scope().lambda_function_arn(function_name, Some(qualifier));
        LambdaError::new(
            ErrorType::ResourceNotFoundException,
            format!("The function {arn} doesn't have an EventInvokeConfig"),
        )
    }
}

/// Starts every due asynchronous invocation, then sleeps on the injected
/// clock until the next is due or a new one arrives.
pub(super) async fn run_async_events(invoker: Arc<Invoker>) {
    loop {
        let changed = invoker.events_changed.notified();
        let now = invoker.clock.now();
        let (due, next) = {
            let mut schedule = lock(&invoker.event_schedule);
            let later = schedule.split_off(&(now + Duration::from_nanos(1), String::new()));
            let due: Vec<QueuedEvent> = std::mem::replace(&mut *schedule, later).into_values().collect();
            (due, schedule.keys().next().map(|(at, _)| *at))
        };
        for event in due {
            tokio::spawn(Arc::clone(&invoker).attempt_event(event));
        }
        match next {
            Some(at) => {
                tokio::select! {
                    () = invoker.clock.sleep_until(at) => {}
                    () = changed => {}
                }
            }
            None => changed.await,
        }
    }
}
