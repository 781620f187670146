//! [`SupportApi`]: every AWS Support operation the bot needs, behind one trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::Error;
use crate::lookup::ServiceIndex;
use crate::model::{
    CaseDetails, CaseFilter, CaseId, CasePage, CaseRef, CaseView, Communication, IssueType,
    NewCase, ReplyOutcome, Resolution, Service, SeverityLevel, WatchedCase,
};
use crate::permissions::{Operation, Permission};

/// Every AWS Support operation the bot needs.
///
/// `#[async_trait]` rather than a native `async fn`: the bot stores an `Arc<dyn SupportApi>`
/// (sandbox, AWS, or a test double), which native async trait methods do not allow.
///
/// ```
/// use support_commands::{Sandbox, SupportApi, NewCase, Severity};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let api: std::sync::Arc<dyn SupportApi> = std::sync::Arc::new(Sandbox::new());
/// let id = api.create_case(&NewCase::new("test", "hello", Severity::Low)).await.unwrap();
/// assert!(id.as_str().starts_with("case-"));
/// # }
/// ```
#[async_trait]
pub trait SupportApi: Send + Sync {
    /// DescribeServices in `language`.
    async fn describe_services(&self, language: &str) -> Result<Arc<Vec<Service>>, Error>;

    /// DescribeSeverityLevels in `language`: the levels this account may use.
    async fn describe_severity_levels(&self, language: &str) -> Result<Vec<SeverityLevel>, Error>;

    /// CreateCase.
    async fn create_case(&self, case: &NewCase) -> Result<CaseId, Error>;

    /// Whether the backend's identity may call `operation`, asked without doing it (AWS's
    /// `dryRun`). The default answers [`Permission::NotApplicable`]: the sandbox and test
    /// doubles have no permissions.
    ///
    /// # Errors
    /// [`Error::AccessDenied`] when IAM denies it, [`Error::SubscriptionRequired`] without a
    /// support plan, or whatever else stopped AWS from answering.
    ///
    /// ```
    /// use support_commands::{Operation, Permission, Sandbox, SupportApi};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let answer = Sandbox::new().may_call(Operation::CreateCase).await.unwrap();
    /// assert_eq!(answer, Permission::NotApplicable);
    /// # }
    /// ```
    async fn may_call(&self, operation: Operation) -> Result<Permission, Error> {
        let _ = operation;
        Ok(Permission::NotApplicable)
    }

    /// DescribeSupportedLanguages: the codes of the languages AWS handles cases of this issue
    /// type, service and category in. The default answers every language CreateCase takes
    /// ([`LANGUAGES`](crate::LANGUAGES)); the AWS backend asks AWS.
    ///
    /// # Errors
    /// [`Error`] from AWS.
    ///
    /// ```
    /// use support_commands::{IssueType, Sandbox, SupportApi};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let langs = Sandbox::new()
    ///     .supported_languages(&IssueType::Technical, "aws-lambda", "general-guidance")
    ///     .await
    ///     .unwrap();
    /// assert!(langs.iter().any(|l| l == "zh"));
    /// # }
    /// ```
    async fn supported_languages(
        &self,
        issue_type: &IssueType,
        service_code: &str,
        category_code: &str,
    ) -> Result<Vec<String>, Error> {
        let _ = (issue_type, service_code, category_code);
        Ok(crate::LANGUAGES.iter().map(|l| (*l).to_owned()).collect())
    }

    /// DescribeCases for one case (by case id or display id) plus one page of its
    /// communications (DescribeCommunications), newest first; `page` continues from a
    /// previous [`CaseView::next_page`].
    async fn describe_case(&self, case: &CaseRef, page: Option<&str>) -> Result<CaseView, Error>;

    /// DescribeCases for one case (by case id or display id), without its communications: one
    /// call where [`describe_case`](Self::describe_case) makes two. The default asks
    /// `describe_case` and drops the communications; backends override it.
    async fn case_details(&self, case: &CaseRef) -> Result<CaseDetails, Error> {
        Ok(self.describe_case(case, None).await?.case)
    }

    /// DescribeCases for the account, newest first.
    async fn list_cases(&self, filter: &CaseFilter, page: Option<&str>) -> Result<CasePage, Error>;

    /// AddCommunicationToCase. Replying to a resolved case reopens it.
    async fn add_communication(
        &self,
        case: &CaseId,
        body: &str,
        cc: &[String],
    ) -> Result<ReplyOutcome, Error>;

    /// ResolveCase.
    async fn resolve_case(&self, case: &CaseId) -> Result<Resolution, Error>;

    /// Up to 100 cases by id, resolved ones included, each with its newest communications:
    /// one DescribeCases (`caseIdList`, `includeCommunications`, `language`) on AWS. Cases
    /// that AWS does not return are left out.
    ///
    /// The default asks for each case on its own; backends override it.
    ///
    /// # Errors
    /// [`Error`] from AWS, for instance `CaseIdNotFound` for an unknown id.
    ///
    /// ```
    /// # use support_commands::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sandbox = Sandbox::new();
    /// let id = sandbox.create_case(&NewCase::new("s", "b", Severity::Low)).await.unwrap();
    /// let cases = sandbox.watch_cases(&[id], "zh").await.unwrap();
    /// assert_eq!(cases[0].recent.len(), 1);
    /// # }
    /// ```
    async fn watch_cases(&self, ids: &[CaseId], language: &str) -> Result<Vec<WatchedCase>, Error> {
        let _ = language;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let view = self
                .describe_case(&CaseRef::CaseId(id.clone()), None)
                .await?;
            let more = view.communications.len() > 5 || view.next_page.is_some();
            let recent = view.communications.into_iter().take(5).collect();
            out.push(WatchedCase::new(view.case, recent, more));
        }
        Ok(out)
    }

    /// One page of a case's communications, newest first, and the token of the next page
    /// (DescribeCommunications).
    ///
    /// # Errors
    /// [`Error`] from AWS.
    ///
    /// ```
    /// # use support_commands::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sandbox = Sandbox::new();
    /// let id = sandbox.create_case(&NewCase::new("s", "b", Severity::Low)).await.unwrap();
    /// let (page, next) = sandbox.communications(&id, None).await.unwrap();
    /// assert_eq!((page.len(), next), (1, None));
    /// # }
    /// ```
    async fn communications(
        &self,
        case: &CaseId,
        page: Option<&str>,
    ) -> Result<(Vec<Communication>, Option<String>), Error> {
        let view = self
            .describe_case(&CaseRef::CaseId(case.clone()), page)
            .await?;
        Ok((view.communications, view.next_page))
    }

    /// The case whose newest communications contain `token`: in `case` only, or else among the
    /// ten newest cases. A write whose outcome is unknown (its answer was lost, or the process
    /// died) is looked up by a token written into its text, rather than sent again.
    ///
    /// The default reads the newest page of communications of each candidate
    /// ([`list_cases`](Self::list_cases), [`describe_case`](Self::describe_case)).
    ///
    /// ```
    /// use support_commands::{NewCase, Sandbox, Severity, SupportApi};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let api = Sandbox::new();
    /// let id = api.create_case(&NewCase::new("disk", "full (ref 7f3a9c)", Severity::Low)).await.unwrap();
    /// assert_eq!(api.find_token("ref 7f3a9c", None).await.unwrap(), Some(id));
    /// assert_eq!(api.find_token("ref 000000", None).await.unwrap(), None);
    /// # }
    /// ```
    async fn find_token(
        &self,
        token: &str,
        case: Option<&CaseRef>,
    ) -> Result<Option<CaseId>, Error> {
        let candidates = match case {
            Some(case) => vec![case.clone()],
            None => {
                let filter = CaseFilter {
                    include_resolved: true,
                    page_size: Some(10),
                };
                let page = self.list_cases(&filter, None).await?;
                page.cases
                    .into_iter()
                    .take(10)
                    .map(|case| CaseRef::CaseId(case.case_id))
                    .collect()
            }
        };
        for candidate in candidates {
            let view = self.describe_case(&candidate, None).await?;
            if view.communications.iter().any(|c| c.body.contains(token)) {
                return Ok(Some(view.case.case_id));
            }
        }
        Ok(None)
    }
}

/// A shared backend is a backend: `Arc<dyn SupportApi>` can be wrapped (e.g. by [`Cached`]).
///
/// ```
/// use std::sync::Arc;
/// use support_commands::{Cached, Sandbox, SupportApi};
/// let shared: Arc<dyn SupportApi> = Arc::new(Sandbox::new());
/// let cached = Cached::new(shared);
/// # let _ = cached;
/// ```
#[async_trait]
impl<T: SupportApi + ?Sized> SupportApi for Arc<T> {
    async fn describe_services(&self, language: &str) -> Result<Arc<Vec<Service>>, Error> {
        (**self).describe_services(language).await
    }
    async fn describe_severity_levels(&self, language: &str) -> Result<Vec<SeverityLevel>, Error> {
        (**self).describe_severity_levels(language).await
    }
    async fn create_case(&self, case: &NewCase) -> Result<CaseId, Error> {
        (**self).create_case(case).await
    }
    async fn may_call(&self, operation: Operation) -> Result<Permission, Error> {
        (**self).may_call(operation).await
    }
    async fn supported_languages(
        &self,
        issue_type: &IssueType,
        service_code: &str,
        category_code: &str,
    ) -> Result<Vec<String>, Error> {
        (**self)
            .supported_languages(issue_type, service_code, category_code)
            .await
    }
    async fn describe_case(&self, case: &CaseRef, page: Option<&str>) -> Result<CaseView, Error> {
        (**self).describe_case(case, page).await
    }
    async fn case_details(&self, case: &CaseRef) -> Result<CaseDetails, Error> {
        (**self).case_details(case).await
    }
    async fn list_cases(&self, filter: &CaseFilter, page: Option<&str>) -> Result<CasePage, Error> {
        (**self).list_cases(filter, page).await
    }
    async fn add_communication(
        &self,
        case: &CaseId,
        body: &str,
        cc: &[String],
    ) -> Result<ReplyOutcome, Error> {
        (**self).add_communication(case, body, cc).await
    }
    async fn resolve_case(&self, case: &CaseId) -> Result<Resolution, Error> {
        (**self).resolve_case(case).await
    }
    async fn watch_cases(&self, ids: &[CaseId], language: &str) -> Result<Vec<WatchedCase>, Error> {
        (**self).watch_cases(ids, language).await
    }
    async fn communications(
        &self,
        case: &CaseId,
        page: Option<&str>,
    ) -> Result<(Vec<Communication>, Option<String>), Error> {
        (**self).communications(case, page).await
    }
    async fn find_token(
        &self,
        token: &str,
        case: Option<&CaseRef>,
    ) -> Result<Option<CaseId>, Error> {
        (**self).find_token(token, case).await
    }
}

/// How long [`Cached`] keeps answers.
///
/// ```
/// let ttl = support_commands::CacheTtl::default();
/// assert_eq!(ttl.services.as_secs(), 6 * 3600);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct CacheTtl {
    /// DescribeServices (default 6 hours: the catalogue changes rarely).
    pub services: Duration,
    /// DescribeSeverityLevels (default 1 hour: it follows the support plan).
    pub severity_levels: Duration,
}

impl Default for CacheTtl {
    fn default() -> Self {
        Self {
            services: Duration::from_secs(6 * 3600),
            severity_levels: Duration::from_secs(3600),
        }
    }
}

type Entry<T> = Mutex<HashMap<String, (Instant, T)>>;

/// Wraps any [`SupportApi`] and caches the service catalogue (with its search index) and the
/// severity levels per language; every other call goes straight through. Errors are never
/// cached.
///
/// ```
/// use support_commands::{Cached, Sandbox, SupportApi};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let api = Cached::new(Sandbox::new());
/// let first = api.describe_services("zh").await.unwrap();
/// let second = api.describe_services("zh").await.unwrap();
/// assert!(std::sync::Arc::ptr_eq(&first, &second)); // served from the cache
/// # }
/// ```
#[derive(Debug)]
pub struct Cached<S> {
    inner: S,
    ttl: CacheTtl,
    services: Entry<Arc<ServiceIndex>>,
    severity: Entry<Vec<SeverityLevel>>,
    languages: Entry<Vec<String>>,
}

impl<S> Cached<S> {
    /// Caches with the default TTLs.
    ///
    /// ```
    /// let api = support_commands::Cached::new(support_commands::Sandbox::new());
    /// # let _ = api;
    /// ```
    #[must_use]
    pub fn new(inner: S) -> Self {
        Self::with_ttl(inner, CacheTtl::default())
    }

    /// Caches with explicit TTLs.
    ///
    /// ```
    /// let api = support_commands::Cached::with_ttl(support_commands::Sandbox::new(), Default::default());
    /// # let _ = api;
    /// ```
    #[must_use]
    pub fn with_ttl(inner: S, ttl: CacheTtl) -> Self {
        Self {
            inner,
            ttl,
            services: Mutex::default(),
            severity: Mutex::default(),
            languages: Mutex::default(),
        }
    }

    /// The wrapped backend.
    ///
    /// ```
    /// let api = support_commands::Cached::new(support_commands::Sandbox::new());
    /// let _sandbox: &support_commands::Sandbox = api.inner();
    /// ```
    #[must_use]
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: SupportApi> Cached<S> {
    /// The search index over the catalogue in `language`, built once per catalogue read.
    ///
    /// # Errors
    /// The backend's, when the catalogue is not cached and cannot be read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let api = support_commands::Cached::new(support_commands::Sandbox::new());
    /// let index = api.service_index("zh").await.unwrap();
    /// assert_eq!(index.search("ec2", 1)[0].service.code, "amazon-elastic-compute-cloud-linux");
    /// # }
    /// ```
    pub async fn service_index(&self, language: &str) -> Result<Arc<ServiceIndex>, Error> {
        if let Some(hit) = cached(&self.services, language, self.ttl.services) {
            return Ok(hit);
        }
        let fresh = Arc::new(ServiceIndex::new(
            self.inner.describe_services(language).await?,
        ));
        store(&self.services, language, Arc::clone(&fresh));
        Ok(fresh)
    }
}

fn cached<T: Clone>(map: &Entry<T>, key: &str, ttl: Duration) -> Option<T> {
    let map = map.lock().unwrap_or_else(PoisonError::into_inner);
    map.get(key)
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, value)| value.clone())
}

fn store<T>(map: &Entry<T>, key: &str, value: T) {
    map.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key.to_owned(), (Instant::now(), value));
}

#[async_trait]
impl<S: SupportApi> SupportApi for Cached<S> {
    async fn describe_services(&self, language: &str) -> Result<Arc<Vec<Service>>, Error> {
        Ok(Arc::clone(self.service_index(language).await?.services()))
    }

    async fn describe_severity_levels(&self, language: &str) -> Result<Vec<SeverityLevel>, Error> {
        if let Some(hit) = cached(&self.severity, language, self.ttl.severity_levels) {
            return Ok(hit);
        }
        let fresh = self.inner.describe_severity_levels(language).await?;
        store(&self.severity, language, fresh.clone());
        Ok(fresh)
    }

    async fn create_case(&self, case: &NewCase) -> Result<CaseId, Error> {
        self.inner.create_case(case).await
    }

    async fn may_call(&self, operation: Operation) -> Result<Permission, Error> {
        self.inner.may_call(operation).await
    }

    /// Kept as long as the catalogue: the languages follow the service and category.
    async fn supported_languages(
        &self,
        issue_type: &IssueType,
        service_code: &str,
        category_code: &str,
    ) -> Result<Vec<String>, Error> {
        let key = format!("{issue_type}/{service_code}/{category_code}");
        if let Some(hit) = cached(&self.languages, &key, self.ttl.services) {
            return Ok(hit);
        }
        let fresh = self
            .inner
            .supported_languages(issue_type, service_code, category_code)
            .await?;
        store(&self.languages, &key, fresh.clone());
        Ok(fresh)
    }

    async fn describe_case(&self, case: &CaseRef, page: Option<&str>) -> Result<CaseView, Error> {
        self.inner.describe_case(case, page).await
    }

    async fn case_details(&self, case: &CaseRef) -> Result<CaseDetails, Error> {
        self.inner.case_details(case).await
    }

    async fn list_cases(&self, filter: &CaseFilter, page: Option<&str>) -> Result<CasePage, Error> {
        self.inner.list_cases(filter, page).await
    }

    async fn add_communication(
        &self,
        case: &CaseId,
        body: &str,
        cc: &[String],
    ) -> Result<ReplyOutcome, Error> {
        self.inner.add_communication(case, body, cc).await
    }

    async fn resolve_case(&self, case: &CaseId) -> Result<Resolution, Error> {
        self.inner.resolve_case(case).await
    }

    async fn watch_cases(&self, ids: &[CaseId], language: &str) -> Result<Vec<WatchedCase>, Error> {
        self.inner.watch_cases(ids, language).await
    }
    async fn communications(
        &self,
        case: &CaseId,
        page: Option<&str>,
    ) -> Result<(Vec<Communication>, Option<String>), Error> {
        self.inner.communications(case, page).await
    }
}
