//! The native methods of `dev.directmem.Native`: each converts its arguments, calls the pool,
//! and goes through `guard` for errors.

use super::collector::{set_max_heap, JvmCollector};
use super::events;
use super::guard::guard;
use super::ids;
use crate::error::Error;
use crate::memory;
use crate::pool::{FreedBy, Pool};
use crate::reclaim::Policy;
use crate::report::{ReportingCollector, Trigger};
use jni::objects::{JByteBuffer, JClass, JObject, JString, JValue};
use jni::signature::ReturnType;
use jni::sys::{jboolean, jbyte, jint, jlong, jlongArray, jobject, JNI_ERR, JNI_VERSION_1_8};
use jni::{JNIEnv, JavaVM};
use once_cell::sync::Lazy;
use std::ffi::c_void;
use std::ptr::NonNull;

static POOL: Lazy<Pool> = Lazy::new(|| Pool::new(0, Policy::default()));

#[no_mangle]
pub extern "system" fn JNI_OnLoad(_vm: JavaVM, _reserved: *mut c_void) -> jint {
    // Logging starts in Native.initObservability, which knows the directmem.log property.
    // A panic becomes a Java exception (see guard.rs); log it rather than print a backtrace.
    std::panic::set_hook(Box::new(|info| log::error!("{info}")));
    if std::panic::catch_unwind(|| Lazy::force(&POOL)).is_err() {
        return JNI_ERR;
    }
    JNI_VERSION_1_8
}

/// Starts logging and the reclamation upcall; runs before `init`.
///
/// `filter` is the `directmem.log` property (an `env_logger` filter such as `debug` or
/// `directmem=trace`), or null: then `RUST_LOG` decides, else only warnings are logged. A host
/// that already installed a logger keeps it.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_initObservability<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    filter: JString<'l>,
) {
    guard(&mut env, (), |env| {
        let mut builder = if filter.is_null() {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        } else {
            let filter: String = env.get_string(&filter)?.into();
            let mut builder = env_logger::Builder::new();
            builder.parse_filters(&filter);
            builder
        };
        let _ = builder.try_init();
        events::init(env)
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_init<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    max_memory: jlong,
    max_heap: jlong,
) {
    guard(&mut env, (), |env| {
        let max = non_negative(max_memory, "maximum memory")?;
        ids::init(env)?;
        POOL.set_max(max);
        set_max_heap(u64::try_from(max_heap).unwrap_or(0));
        log::debug!("directmem budget: {max} bytes");
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_allocate<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    capacity: jint,
) -> jlong {
    guard(&mut env, 0, |env| {
        let capacity = non_negative(capacity.into(), "capacity")?;
        let reclaimed = || POOL.reclaimed_bytes();
        let mut jvm = JvmCollector::new(env, &reclaimed);
        let trigger = Trigger::RefusedAllocation {
            requested: capacity,
        };
        let mut collector = ReportingCollector::new(&mut jvm, &reclaimed, &events::report, trigger);
        let ptr = POOL.allocate(capacity, &mut collector)?;
        Ok(ptr.as_ptr() as jlong)
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_allocateAligned<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    capacity: jint,
    alignment: jint,
) -> jlong {
    guard(&mut env, 0, |env| {
        let capacity = non_negative(capacity.into(), "capacity")?;
        let alignment = non_negative(alignment.into(), "alignment")?;
        let reclaimed = || POOL.reclaimed_bytes();
        let mut jvm = JvmCollector::new(env, &reclaimed);
        let trigger = Trigger::RefusedAllocation {
            requested: capacity,
        };
        let mut collector = ReportingCollector::new(&mut jvm, &reclaimed, &events::report, trigger);
        let ptr = POOL.allocate_aligned(capacity, alignment, &mut collector)?;
        Ok(ptr.as_ptr() as jlong)
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_freeAligned<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    address: jlong,
    capacity: jint,
    alignment: jint,
    by_cleaner: jboolean,
) {
    guard(&mut env, (), |_| {
        let capacity = non_negative(capacity.into(), "capacity")?;
        let alignment = non_negative(alignment.into(), "alignment")?;
        let ptr = NonNull::new(address as *mut u8)
            .ok_or_else(|| Error::IllegalArgument("free of a null address".into()))?;
        let by = if by_cleaner != 0 {
            FreedBy::Cleaner
        } else {
            FreedBy::Caller
        };
        // SAFETY: the Java side frees each allocation once, through its Cleanable.
        unsafe { POOL.free_aligned(ptr, capacity, alignment, by) }
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_wrap<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    address: jlong,
    capacity: jint,
    owner: JObject<'l>,
) -> jobject {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let ids = ids::get()?;
        let len = usize::try_from(capacity)
            .map_err(|_| Error::IllegalArgument(format!("negative capacity {capacity}")))?;
        // SAFETY: `address` is a live block of `capacity` bytes from `allocate`.
        let buffer = unsafe { env.new_direct_byte_buffer(address as *mut u8, len)? };
        // The buffer and every view of it keep `owner` alive; the Cleaner watches `owner`.
        env.set_field_unchecked(&buffer, ids.att, JValue::Object(&owner))?;
        Ok(buffer.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_free<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    address: jlong,
    capacity: jint,
    by_cleaner: jboolean,
) {
    guard(&mut env, (), |_| {
        let capacity = non_negative(capacity.into(), "capacity")?;
        let ptr = NonNull::new(address as *mut u8)
            .ok_or_else(|| Error::IllegalArgument("free of a null address".into()))?;
        let by = if by_cleaner != 0 {
            FreedBy::Cleaner
        } else {
            FreedBy::Caller
        };
        // SAFETY: the Java side frees each allocation once, through its Cleanable.
        unsafe { POOL.free(ptr, capacity, by) }
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_attachment<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    buffer: JObject<'l>,
) -> jobject {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let ids = ids::get()?;
        if buffer.is_null() || !env.is_instance_of(&buffer, &ids.direct_byte_buffer)? {
            return Ok(std::ptr::null_mut());
        }
        let att = env.get_field_unchecked(&buffer, ids.att, ReturnType::Object)?;
        Ok(att.l()?.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_disarm<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    buffer: JObject<'l>,
) {
    guard(&mut env, (), |env| {
        let ids = ids::get()?;
        // With no address and no room, every get/put fails its bounds check.
        env.set_field_unchecked(&buffer, ids.limit, JValue::Int(0))?;
        env.set_field_unchecked(&buffer, ids.position, JValue::Int(0))?;
        env.set_field_unchecked(&buffer, ids.mark, JValue::Int(-1))?;
        env.set_field_unchecked(&buffer, ids.capacity, JValue::Int(0))?;
        env.set_field_unchecked(&buffer, ids.address, JValue::Long(0))?;
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_fill<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    buffer: JByteBuffer<'l>,
    offset: jint,
    length: jint,
    value: jbyte,
) {
    guard(&mut env, (), |env| {
        let capacity = env.get_direct_buffer_capacity(&buffer)?;
        let (offset, length) = match (usize::try_from(offset), usize::try_from(length)) {
            (Ok(o), Ok(l)) if o.checked_add(l).is_some_and(|end| end <= capacity) => (o, l),
            _ => {
                return Err(Error::IllegalArgument(format!(
                    "range [{offset}, {offset}+{length}) is outside the buffer's {capacity} bytes"
                )))
            }
        };
        if length == 0 {
            return Ok(());
        }
        let base = env.get_direct_buffer_address(&buffer)?;
        let start = NonNull::new(base.wrapping_add(offset))
            .ok_or_else(|| Error::IllegalState("direct buffer without an address".into()))?;
        // SAFETY: the range lies inside the buffer's own memory, checked above.
        unsafe { memory::fill(start, length, value as u8) };
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_stats<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jlongArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let s = POOL.stats();
        // Order shared with DirectMemoryStats.fromNative.
        let values = [
            s.ledger.count,
            s.ledger.capacity,
            s.ledger.used,
            s.ledger.max,
            s.ledger.peak,
            s.collections,
            s.reclaimed_bytes,
            s.freed_bytes,
            s.failures,
        ]
        .map(|v| jlong::try_from(v).unwrap_or(jlong::MAX));
        let array = env.new_long_array(values.len() as i32)?;
        env.set_long_array_region(&array, 0, &values)?;
        Ok(array.into_raw())
    })
}

/// Test hook: the calling thread's next native allocation fails as if the OS refused it.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_failNextAllocation<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
) {
    memory::arm_allocation_failure();
}

/// Test hook: proves a Rust panic reaches Java as an exception, with the JVM alive.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_panicForTesting<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) {
    guard(&mut env, (), |_| -> Result<(), Error> {
        panic!("deliberate panic for testing")
    })
}

fn non_negative(value: i64, what: &str) -> Result<u64, Error> {
    u64::try_from(value)
        .map_err(|_| Error::IllegalArgument(format!("{what} must not be negative: {value}")))
}
