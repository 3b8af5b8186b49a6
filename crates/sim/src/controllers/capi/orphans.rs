//! MachineSets and Machines whose owner is gone.

use super::{CONTROL_PLANE_NAME_LABEL, DEPLOYMENT_LABEL, Pass, SET_LABEL, label};
use crate::registry::ids;
use crate::store::namespace_of;

impl Pass<'_> {
    /// MachineSets and Machines whose owner is gone go too, whether or not a garbage
    /// collector runs (a Machine must go through its own deletion to free its node).
    pub(super) fn collect_orphans(&mut self) {
        for ms in self.list(*ids::MACHINESETS) {
            if let Some(md) = label(&ms, DEPLOYMENT_LABEL)
                && self
                    .store()
                    .get(*ids::MACHINEDEPLOYMENTS, namespace_of(&ms), md)
                    .is_none()
            {
                self.delete(*ids::MACHINESETS, &ms);
            }
        }
        for m in self.list(*ids::MACHINES) {
            let ns = namespace_of(&m);
            let orphan = if let Some(kcp) = label(&m, CONTROL_PLANE_NAME_LABEL) {
                self.store().get(*ids::KCPS, ns, kcp).is_none()
            } else if let Some(ms) = label(&m, SET_LABEL) {
                self.store().get(*ids::MACHINESETS, ns, ms).is_none()
            } else {
                false
            };
            if orphan {
                self.delete(*ids::MACHINES, &m);
            }
        }
    }
}
