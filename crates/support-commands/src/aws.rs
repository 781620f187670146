//! The real backend on aws-sdk-support (feature `aws`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_support::error::{ProvideErrorMetadata, SdkError};

use crate::api::SupportApi;
use crate::error::Error;
use crate::model::{
    CaseDetails, CaseFilter, CaseId, CasePage, CaseRef, CaseStatus, CaseView, Category,
    Communication, IssueType, NewCase, ReplyOutcome, Resolution, Service, Severity, SeverityLevel,
    WatchedCase,
};
use crate::partition::Partition;
use crate::sandbox::COMMUNICATIONS_PAGE;

/// Settings of [`AwsSupport`].
///
/// ```
/// let config = support_commands::AwsSupportConfig { max_attempts: Some(1), ..Default::default() };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct AwsSupportConfig {
    /// The partition (default global AWS).
    pub partition: Partition,
    /// Deadline of one operation, retries included (default 10 s).
    pub operation_timeout: Duration,
    /// Attempts per read with the standard (exponential backoff) strategy; `None` keeps
    /// the SDK configuration's (3 by default, or `AWS_MAX_ATTEMPTS`). Writes (CreateCase,
    /// AddCommunicationToCase, ResolveCase) are always sent once: a retry after a lost answer
    /// could open a second case.
    pub max_attempts: Option<u32>,
    /// Deadline of one write (default 120 s): long, because a write cut short has an unknown
    /// outcome. The bot answers "AWS is slow" long before and reports the real outcome later.
    pub write_timeout: Duration,
}

impl Default for AwsSupportConfig {
    fn default() -> Self {
        Self {
            partition: Partition::Aws,
            operation_timeout: Duration::from_secs(10),
            max_attempts: None,
            write_timeout: Duration::from_secs(120),
        }
    }
}

/// [`SupportApi`] on the AWS Support API through aws-sdk-support.
///
/// Credentials come from the standard chain; `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SUPPORT`
/// override the endpoint (tests point them at moto).
///
/// ```no_run
/// use support_commands::{AwsSupport, AwsSupportConfig, Partition, SupportApi};
/// # #[tokio::main] async fn main() {
/// let api = AwsSupport::from_env(AwsSupportConfig { partition: Partition::AwsCn, ..Default::default() }).await;
/// let levels = api.describe_severity_levels("zh").await;
/// # let _ = levels; }
/// ```
#[derive(Debug, Clone)]
pub struct AwsSupport {
    pub(crate) client: aws_sdk_support::Client,
    write_timeout: Duration,
}

fn transport(err: impl std::fmt::Display) -> Error {
    Error::Transport(err.to_string())
}

pub(crate) fn map_err<E>(err: SdkError<E, aws_sdk_support::config::http::HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::TimeoutError(_) => Error::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => Error::Timeout,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let err = service.into_err();
            let message = err.message().unwrap_or_default().to_owned();
            match err.code() {
                Some(code) => Error::from_code(code, &message),
                None => Error::Service {
                    code: format!("HTTP {status}"),
                    message,
                },
            }
        }
        other => transport(aws_sdk_support::error::DisplayErrorContext(other)),
    }
}

fn details(case: &aws_sdk_support::types::CaseDetails) -> CaseDetails {
    CaseDetails {
        case_id: CaseId::new_unchecked(case.case_id().unwrap_or_default()),
        display_id: case.display_id().map(str::to_owned),
        subject: case.subject().unwrap_or_default().to_owned(),
        status: CaseStatus::from_wire(case.status().unwrap_or_default()),
        service_code: case.service_code().map(str::to_owned),
        category_code: case.category_code().map(str::to_owned),
        severity: case.severity_code().map(Severity::from_wire),
        submitted_by: case.submitted_by().map(str::to_owned),
        time_created: case.time_created().map(str::to_owned),
        cc: case.cc_email_addresses().to_vec(),
        language: case.language().map(str::to_owned),
    }
}

fn communication(c: &aws_sdk_support::types::Communication) -> Communication {
    Communication::new(
        c.body().unwrap_or_default(),
        c.submitted_by().unwrap_or_default(),
        c.time_created().unwrap_or_default(),
    )
}

impl AwsSupport {
    /// Loads the standard AWS configuration (credentials chain, endpoint overrides) and builds
    /// the client for `config.partition`.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let api = support_commands::AwsSupport::from_env(Default::default()).await;
    /// # let _ = api; }
    /// ```
    pub async fn from_env(config: AwsSupportConfig) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.partition.signing_region()))
            .load()
            .await;
        Self::from_sdk_config(&sdk, config)
    }

    /// Builds the client from an existing SDK configuration, pinned to the partition's
    /// signing region, with the operation timeout and attempts of `config`.
    ///
    /// ```no_run
    /// # async fn run(sdk: aws_config::SdkConfig) {
    /// let api = support_commands::AwsSupport::from_sdk_config(&sdk, Default::default());
    /// # let _ = api; }
    /// ```
    #[must_use]
    pub fn from_sdk_config(sdk: &SdkConfig, config: AwsSupportConfig) -> Self {
        let mut builder = aws_sdk_support::config::Builder::from(sdk)
            .region(Region::new(config.partition.signing_region()))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(config.operation_timeout)
                    .build(),
            );
        if let Some(attempts) = config.max_attempts {
            builder =
                builder.retry_config(RetryConfig::standard().with_max_attempts(attempts.max(1)));
        }
        Self {
            client: aws_sdk_support::Client::from_conf(builder.build()),
            write_timeout: config.write_timeout,
        }
    }

    /// The configuration of a write: one attempt, and the write deadline.
    fn write_override(&self) -> aws_sdk_support::config::Builder {
        aws_sdk_support::config::Builder::default()
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(self.write_timeout)
                    .build(),
            )
    }

    /// The region the client signs for (the partition's Support region).
    ///
    /// ```no_run
    /// # async fn run(sdk: aws_config::SdkConfig) {
    /// let api = support_commands::AwsSupport::from_sdk_config(&sdk, Default::default());
    /// assert_eq!(api.region(), Some("us-east-1"));
    /// # }
    /// ```
    #[must_use]
    pub fn region(&self) -> Option<&str> {
        self.client.config().region().map(|r| r.as_ref())
    }

    async fn find_case(&self, case: &CaseRef) -> Result<CaseDetails, Error> {
        let request = self
            .client
            .describe_cases()
            .include_resolved_cases(true)
            .include_communications(false);
        let request = match case {
            CaseRef::CaseId(id) => request.case_id_list(id.as_str()),
            CaseRef::DisplayId(display) => request.display_id(display),
        };
        let output = request.send().await.map_err(map_err)?;
        output
            .cases()
            .iter()
            .map(details)
            .find(|c| match case {
                CaseRef::CaseId(id) => c.case_id == *id,
                CaseRef::DisplayId(display) => c.display_id.as_deref() == Some(display.as_str()),
            })
            .ok_or_else(|| Error::CaseNotFound(case.to_string()))
    }
}

#[async_trait]
impl SupportApi for AwsSupport {
    async fn describe_services(&self, language: &str) -> Result<Arc<Vec<Service>>, Error> {
        let output = self
            .client
            .describe_services()
            .language(language)
            .send()
            .await
            .map_err(map_err)?;
        Ok(Arc::new(
            output
                .services()
                .iter()
                .map(|s| {
                    Service::new(
                        s.code().unwrap_or_default(),
                        s.name().unwrap_or_default(),
                        s.categories()
                            .iter()
                            .map(|c| Category {
                                code: c.code().unwrap_or_default().to_owned(),
                                name: c.name().unwrap_or_default().to_owned(),
                            })
                            .collect(),
                    )
                })
                .collect(),
        ))
    }

    async fn describe_severity_levels(&self, language: &str) -> Result<Vec<SeverityLevel>, Error> {
        let output = self
            .client
            .describe_severity_levels()
            .language(language)
            .send()
            .await
            .map_err(map_err)?;
        Ok(output
            .severity_levels()
            .iter()
            .map(|l| SeverityLevel {
                code: Severity::from_wire(l.code().unwrap_or_default()),
                name: l.name().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    async fn create_case(&self, case: &NewCase) -> Result<CaseId, Error> {
        let mut request = self
            .client
            .create_case()
            .subject(&case.subject)
            .communication_body(&case.body)
            .severity_code(case.severity.as_str())
            .language(&case.language)
            .issue_type(case.issue_type.as_str());
        if let Some(code) = &case.service_code {
            request = request.service_code(code);
        }
        if let Some(code) = &case.category_code {
            request = request.category_code(code);
        }
        if !case.cc.is_empty() {
            request = request.set_cc_email_addresses(Some(case.cc.clone()));
        }
        let output = request
            .customize()
            .config_override(self.write_override())
            .send()
            .await
            .map_err(map_err)?;
        output
            .case_id()
            .map(CaseId::new_unchecked)
            .ok_or_else(|| Error::Service {
                code: "NoCaseId".to_owned(),
                message: "CreateCase returned no caseId".to_owned(),
            })
    }

    async fn may_call(
        &self,
        operation: crate::permissions::Operation,
    ) -> Result<crate::permissions::Permission, Error> {
        self.dry_run(operation).await
    }

    async fn supported_languages(
        &self,
        issue_type: &IssueType,
        service_code: &str,
        category_code: &str,
    ) -> Result<Vec<String>, Error> {
        let output = self
            .client
            .describe_supported_languages()
            .issue_type(issue_type.as_str())
            .service_code(service_code)
            .category_code(category_code)
            .send()
            .await
            .map_err(map_err)?;
        Ok(output
            .supported_languages()
            .iter()
            .filter_map(|l| l.code().map(str::to_owned))
            .collect())
    }

    async fn describe_case(&self, case: &CaseRef, page: Option<&str>) -> Result<CaseView, Error> {
        let found = self.find_case(case).await?;
        let mut request = self
            .client
            .describe_communications()
            .case_id(found.case_id.as_str())
            .max_results(i32::try_from(COMMUNICATIONS_PAGE).unwrap_or(10));
        if let Some(token) = page {
            request = request.next_token(token);
        }
        let output = request.send().await.map_err(map_err)?;
        let communications = output.communications().iter().map(communication).collect();
        Ok(CaseView {
            case: found,
            communications,
            next_page: output.next_token().map(str::to_owned),
        })
    }

    async fn case_details(&self, case: &CaseRef) -> Result<CaseDetails, Error> {
        self.find_case(case).await
    }

    async fn list_cases(&self, filter: &CaseFilter, page: Option<&str>) -> Result<CasePage, Error> {
        let size = filter.page_size.unwrap_or(100).clamp(10, 100);
        let mut request = self
            .client
            .describe_cases()
            .include_resolved_cases(filter.include_resolved)
            .include_communications(false)
            .max_results(i32::try_from(size).unwrap_or(100));
        if let Some(token) = page {
            request = request.next_token(token);
        }
        let output = request.send().await.map_err(map_err)?;
        Ok(CasePage {
            cases: output.cases().iter().map(details).collect(),
            next_page: output.next_token().map(str::to_owned),
        })
    }

    async fn add_communication(
        &self,
        case: &CaseId,
        body: &str,
        cc: &[String],
    ) -> Result<ReplyOutcome, Error> {
        let before = self.find_case(&CaseRef::CaseId(case.clone())).await?;
        let mut request = self
            .client
            .add_communication_to_case()
            .case_id(case.as_str())
            .communication_body(body);
        if !cc.is_empty() {
            request = request.set_cc_email_addresses(Some(cc.to_vec()));
        }
        request
            .customize()
            .config_override(self.write_override())
            .send()
            .await
            .map_err(map_err)?;
        Ok(ReplyOutcome {
            reopened: before.status == CaseStatus::Resolved,
        })
    }

    async fn watch_cases(&self, ids: &[CaseId], language: &str) -> Result<Vec<WatchedCase>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        let mut page: Option<String> = None;
        loop {
            let mut request = self
                .client
                .describe_cases()
                .set_case_id_list(Some(ids.iter().map(|id| id.as_str().to_owned()).collect()))
                .include_resolved_cases(true)
                .include_communications(true)
                .language(language)
                .max_results(100);
            if let Some(token) = &page {
                request = request.next_token(token);
            }
            let output = request.send().await.map_err(map_err)?;
            for case in output.cases() {
                let recent = case.recent_communications();
                out.push(WatchedCase::new(
                    details(case),
                    recent
                        .map(|r| r.communications().iter().map(communication).collect())
                        .unwrap_or_default(),
                    recent.and_then(|r| r.next_token()).is_some(),
                ));
            }
            match output.next_token() {
                Some(token) if !output.cases().is_empty() => page = Some(token.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    async fn communications(
        &self,
        case: &CaseId,
        page: Option<&str>,
    ) -> Result<(Vec<Communication>, Option<String>), Error> {
        let mut request = self
            .client
            .describe_communications()
            .case_id(case.as_str())
            .max_results(100);
        if let Some(token) = page {
            request = request.next_token(token);
        }
        let output = request.send().await.map_err(map_err)?;
        Ok((
            output.communications().iter().map(communication).collect(),
            output.next_token().map(str::to_owned),
        ))
    }

    async fn resolve_case(&self, case: &CaseId) -> Result<Resolution, Error> {
        let output = self
            .client
            .resolve_case()
            .case_id(case.as_str())
            .customize()
            .config_override(self.write_override())
            .send()
            .await
            .map_err(map_err)?;
        Ok(Resolution {
            initial: CaseStatus::from_wire(output.initial_case_status().unwrap_or_default()),
            final_status: CaseStatus::from_wire(output.final_case_status().unwrap_or_default()),
        })
    }
}
