//! Whether the user may do something in a cluster: one SelfSubjectAccessReview, the way
//! `kubectl auth can-i` asks. The console's action gate and the engine's plan both ask
//! through here.

use std::time::Duration;

pub use k8s_openapi::api::authorization::v1::ResourceAttributes;
use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::Api;
use kube::api::PostParams;

use ck8s_model::access::{Permission, Rbac};

/// How long one review may take before the answer is "timed out".
const REVIEW_TIMEOUT: Duration = Duration::from_secs(15);

/// May the client's user do `rbac` (in `namespace`, or cluster-wide)?
pub async fn review(client: kube::Client, rbac: &Rbac, namespace: Option<&str>) -> Permission {
    review_attributes(
        client,
        ResourceAttributes {
            verb: Some(rbac.verb.to_string()),
            group: Some(rbac.group.to_string()),
            resource: Some(rbac.resource.to_string()),
            subresource: (!rbac.subresource.is_empty()).then(|| rbac.subresource.to_string()),
            namespace: namespace.map(str::to_owned),
            ..Default::default()
        },
    )
    .await
}

/// May the client's user do what `attributes` say? For one named object, or any.
pub async fn review_attributes(client: kube::Client, attributes: ResourceAttributes) -> Permission {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(attributes),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client);
    match tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review)).await {
        Ok(Ok(r)) => match r.status {
            Some(s) if s.allowed => Permission::Allowed,
            Some(s) => Permission::Denied(s.reason.unwrap_or_default()),
            None => Permission::Failed("the review came back without a status".into()),
        },
        Ok(Err(e)) => Permission::Failed(crate::failure::of_kube(&e).sentence),
        Err(_) => Permission::Failed("timed out".into()),
    }
}
