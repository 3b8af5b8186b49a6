pub mod alertmanager;
pub mod kube;
pub mod live;
pub mod prometheus;
