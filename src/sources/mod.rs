pub mod alertmanager;
pub mod kube;
pub mod prometheus;
