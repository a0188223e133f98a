//! `import ADDR ID`: an existing object brought under management. The
//! address must have a `resource` block in the root module; the provider
//! reads the object by its id and it is written into the state, as
//! Terraform 1.0.3's import does.

use crate::backend::{Backend as _, OPERATION_APPLY};
use crate::plan::values;
use crate::state::{IndexKey, InstanceState, Mode};

use super::plan::error;
use super::plan::{PLAN_FLAGS, WITH_VALUE, open_session, parse_flags};
use super::{Ctx, release_lock};

/// `cloudlet infra import [options] ADDR ID`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let mut known = PLAN_FLAGS.to_vec();
    known.push("allow-missing-config");
    let Ok(flags) = parse_flags(ctx, args, &known, WITH_VALUE) else { return 1 };
    let [addr, id] = flags.args.as_slice() else {
        error(ctx, "Wrong number of arguments", "The import command expects two arguments.");
        return 1;
    };
    let parsed = match crate::state::addr::parse(addr) {
        Ok(a) => a,
        Err(e) => {
            error(ctx, "Invalid address", &e);
            return 1;
        }
    };
    let Ok(session) = open_session(ctx, &flags, Some(OPERATION_APPLY), None) else { return 1 };
    let code = import(ctx, &session, addr, id, &parsed);
    if !release_lock(ctx, &session.backend, &session.workspace, session.lock.clone()) {
        return 1;
    }
    code
}

fn import(
    ctx: &mut Ctx<'_>,
    s: &super::plan::Session,
    addr: &str,
    id: &str,
    parsed: &crate::state::addr::Address,
) -> i32 {
    // The resource part: `type.name` and an optional key.
    let base = addr.split('[').next().unwrap_or(addr);
    let key = addr.strip_prefix(base).filter(|k| !k.is_empty()).and_then(|k| {
        let inner = k.trim_start_matches('[').trim_end_matches(']');
        inner
            .parse::<i64>()
            .map(IndexKey::Int)
            .ok()
            .or_else(|| serde_json::from_str::<String>(inner).ok().map(IndexKey::String))
    });
    let _ = parsed;
    let Some(rc) = s.config.resources.iter().find(|r| r.addr() == base && r.mode == Mode::Managed) else {
        let (t, n) = base.split_once('.').unwrap_or((base, ""));
        error(
            ctx,
            &format!("resource address {addr:?} does not exist in the configuration."),
            &format!(
                "Before importing this resource, please create its configuration in the root module. For example:\n\nresource {t:?} {n:?} {{\n  # (resource arguments)\n}}"
            ),
        );
        return 1;
    };
    if s.prior
        .resource(None, Mode::Managed, &rc.type_name, &rc.name)
        .is_some_and(|r| r.instances.iter().any(|i| i.index_key == key && i.deposed.is_none()))
    {
        error(
            ctx,
            "Resource already managed by cloudlet",
            &format!(
                "cloudlet is already managing a remote object for {addr}. To import to this address you must first remove the existing object from the state."
            ),
        );
        return 1;
    }
    let Some(provider) = s.registry.for_type(&rc.type_name) else {
        error(
            ctx,
            "Missing required provider",
            &format!("cloudlet has no provider for resource type {:?}.", rc.type_name),
        );
        return 1;
    };
    let Some(schema) = provider.schema(Mode::Managed, &rc.type_name) else {
        error(
            ctx,
            "Invalid resource type",
            &format!("The provider does not support resource type {:?}.", rc.type_name),
        );
        return 1;
    };
    ctx.out(&format!("{addr}: Importing from ID {id:?}...\n"));
    let imported = match provider.import(&rc.type_name, id).and_then(|v| provider.read(&rc.type_name, &v)) {
        Ok(Some(v)) => v,
        Ok(None) => {
            error(
                ctx,
                "Cannot import non-existent remote object",
                &format!(
                    "While attempting to import an existing object to {addr:?}, the provider detected that no object exists with the given id. Only pre-existing objects can be imported; check that the id is correct and that it is associated with the provider's configured region or endpoint, or use \"cloudlet infra apply\" to create a new remote object for this resource."
                ),
            );
            return 1;
        }
        Err(e) => {
            error(ctx, &e.summary, &e.detail);
            return 1;
        }
    };
    ctx.out(&format!(
        "{addr}: Import prepared!\n  Prepared {} for import\n{addr}: Refreshing state... [id={id}]\n",
        rc.type_name
    ));
    let mut state = s.prior.clone();
    let provider_addr = crate::providers::provider_addr(provider.source());
    let r = state.resource_mut(None, Mode::Managed, &rc.type_name, &rc.name, &provider_addr);
    let mut inst = InstanceState::new(key, crate::plan::object_json(&imported, schema));
    inst.sensitive_attributes = values::sensitive_paths(&imported);
    inst.schema_version = schema.version;
    r.instances.push(inst);
    if let Err(e) = s.backend.write_state(&s.workspace, &state) {
        error(ctx, "Failed to save state", &e.to_string());
        return 1;
    }
    ctx.out("\nImport successful!\n\nThe resources that were imported are shown above. These resources are now in\nyour cloudlet state and will henceforth be managed by cloudlet.\n\n");
    0
}
