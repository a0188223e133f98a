//! The HTTP/1.1 client the CLI talks to a local daemon with: the one in
//! [`cloudlet_core::http`], shared with the infra engine's `aws` provider.

pub(crate) use cloudlet_core::http::{HttpResponse, endpoint_addr, get, send};
