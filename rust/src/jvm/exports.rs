//! The native methods of `dev.directmem.Native`: each converts its arguments, calls the pool,
//! and goes through `guard` for errors.

use super::background;
use super::collector::{set_max_heap, JvmCollector};
use super::events;
use super::guard::guard;
use super::ids;
use crate::error::{non_null, Error};
use crate::last_freed;
use crate::memory;
use crate::pool::{Block, FreedBy, Pool};
use crate::reclaim::{Policy, Waiting};
use crate::report::{PendingReport, ReportedFrees, ReportingCollector, Trigger};
use crate::reuse::REUSE;
use jni::objects::{
    JByteBuffer, JClass, JFieldID, JIntArray, JLongArray, JObject, JString, JValue,
};
use jni::sys::{
    jboolean, jbyte, jint, jlong, jlongArray, jobject, JNI_ERR, JNI_FALSE, JNI_TRUE,
    JNI_VERSION_1_8,
};
use jni::{JNIEnv, JavaVM};
use once_cell::sync::Lazy;
use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{fence, Ordering};
use std::time::Instant;

static POOL: Lazy<Pool> = Lazy::new(|| Pool::new(0, Policy::default()));
/// What a reservation made in steps carries between them: its `Waiting`, then the report of the
/// collection whose frees it waits for, whose instant counts from `STEP_EPOCH`.
const STEP_LONGS: usize = Waiting::LONGS + PendingReport::LONGS;
static STEP_EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

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
/// `directmem=trace`), or null: then `RUST_LOG` decides. Warnings are logged unless the filter
/// sets a level for everything: one that names only modules (or a typo read as one, such as
/// `verbose`) would otherwise silence the rest, errors included. A host that already installed a
/// logger keeps it.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_initObservability<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    filter: JString<'l>,
) {
    guard(&mut env, (), |env| {
        let filter: Option<String> = if filter.is_null() {
            std::env::var("RUST_LOG").ok()
        } else {
            Some(env.get_string(&filter)?.into())
        };
        let mut builder = env_logger::Builder::new();
        // A level without a module in the filter replaces this one.
        builder.filter_level(log::LevelFilter::Warn);
        if let Some(filter) = filter {
            builder.parse_filters(&filter);
        }
        if let Ok(style) = std::env::var("RUST_LOG_STYLE") {
            builder.parse_write_style(&style);
        }
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
    reuse_memory: jlong,
    huge_pages: jboolean,
    trim_malloc: jboolean,
    collector_caveat: JString<'l>,
) {
    guard(&mut env, (), |env| {
        let max = non_negative(max_memory, "maximum memory")?;
        ids::init(env)?;
        if !collector_caveat.is_null() {
            POOL.set_collector_caveat(env.get_string(&collector_caveat)?.into());
        }
        memory::set_huge_pages(huge_pages != JNI_FALSE);
        memory::set_trim_malloc(trim_malloc != JNI_FALSE);
        POOL.set_max(max);
        // Negative: not configured, the default (as much as the budget, at most 64 MiB).
        match u64::try_from(reuse_memory) {
            Ok(bytes) => REUSE.set_limit(bytes.min(max)),
            Err(_) => REUSE.set_limit_for_budget(max),
        }
        last_freed::set_limit(REUSE.limit());
        set_max_heap(u64::try_from(max_heap).unwrap_or(0));
        background::start(env.get_java_vm()?, &POOL);
        log::debug!("directmem budget: {max} bytes");
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_emptyBuffer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jobject {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let empty = memory::allocate_zeroed(0)
            .ok_or_else(|| Error::IllegalState("no address for empty buffers".into()))?;
        // SAFETY: a zero-length buffer never reads or writes its address.
        let buffer = unsafe { env.new_direct_byte_buffer(empty.as_ptr(), 0)? };
        Ok(buffer.into_raw())
    })
}

/// Reserves budget and allocates a zeroed block. When the budget is full: with `reclaim`, makes
/// the JVM collect and waits for memory to come back; without, returns `None` at once. A
/// `waiting` array (not null) keeps the wait outside: then `None` asks the caller to park for
/// its `Waiting::PARK_NANOS` and call again with it (see `Reclaimer::reserve_step`).
fn allocate_block(
    env: &mut JNIEnv,
    capacity: jint,
    alignment: jint,
    reclaim: jboolean,
    waiting: &JLongArray,
) -> Result<Option<Block>, Error> {
    let size = non_negative(capacity.into(), "capacity")?;
    let alignment = non_negative(alignment.into(), "alignment")?;
    let ptr = if reclaim == JNI_FALSE {
        POOL.try_allocate(size, alignment)?
    } else if waiting.is_null() {
        with_collector(env, size, |collector| {
            POOL.allocate(size, alignment, collector)
        })
        .map(Some)?
    } else {
        let mut longs = [0; STEP_LONGS];
        if env.get_array_length(waiting)? as usize != longs.len() {
            return Err(Error::IllegalArgument("waiting: wrong length".into()));
        }
        env.get_long_array_region(waiting, 0, &mut longs)?;
        let (waiting_longs, report_longs) = longs.split_at(Waiting::LONGS);
        let mut state = Waiting::from_longs(waiting_longs).map_err(Error::IllegalArgument)?;
        let pending = PendingReport::from_longs(report_longs, *STEP_EPOCH);
        let (ptr, pending) = with_collector(env, size, |collector| {
            collector.resume(pending);
            let ptr = POOL.allocate_step(size, alignment, collector, &mut state);
            // A park: the wait for the frees goes on, and a later step reports the collection.
            let pending = match ptr {
                Ok(None) => collector.suspend(),
                _ => None,
            };
            (ptr, pending)
        });
        let ptr = ptr?;
        if ptr.is_none() {
            // Only a park needs the state: a block, once allocated, must reach the caller.
            let (waiting_longs, report_longs) = longs.split_at_mut(Waiting::LONGS);
            waiting_longs.copy_from_slice(&state.to_longs());
            report_longs.copy_from_slice(&PendingReport::to_longs(pending, *STEP_EPOCH));
            env.set_long_array_region(waiting, 0, &longs)?;
        }
        ptr
    };
    Ok(ptr.map(|ptr| Block {
        ptr,
        capacity: size,
        alignment,
        stamp: 0, // the Java side stamps it (see `collectionsBegun`)
    }))
}

/// How far the pool's reclaimed bytes have been counted into JFR reports, by reserving threads
/// and the background thread alike.
pub(super) static REPORTED_FREES: ReportedFrees = ReportedFrees::new();

/// Runs `reserve` with this thread's collector, which reports each collection it runs for a
/// refused request of `size` bytes.
fn with_collector<T>(
    env: &mut JNIEnv,
    size: u64,
    reserve: impl FnOnce(&mut ReportingCollector) -> T,
) -> T {
    let reclaimed = || POOL.reclaimed_bytes();
    let mut jvm = JvmCollector::new(env, &reclaimed);
    let trigger = Trigger::RefusedAllocation { requested: size };
    let mut collector = ReportingCollector::new(
        &mut jvm,
        &reclaimed,
        &REPORTED_FREES,
        &events::report,
        trigger,
    );
    reserve(&mut collector)
}

/// Allocates, then points `buffer` (a fresh duplicate of the empty template, which only this
/// thread has seen) at the memory: address, capacity and att. The Java caller sets the limit.
/// Each JNI field store is a VM transition (about 20-30 ns measured here), so the fields Java
/// can set itself are left to it.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_allocate<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    buffer: JObject<'l>,
    capacity: jint,
    alignment: jint,
    owner: JObject<'l>,
    reclaim: jboolean,
    waiting: JLongArray<'l>,
) -> jlong {
    guard(&mut env, 0, |env| {
        let ids = ids::get()?;
        non_null(&buffer, "buffer")?;
        let Some(block) = allocate_block(env, capacity, alignment, reclaim, &waiting)? else {
            return Ok(0); // the budget is full: the caller asked not to reclaim, or to park
        };
        let address = block.ptr.as_ptr() as jlong;
        let point = |env: &mut JNIEnv<'l>| -> Result<(), Error> {
            let fields = RawFields::of(env)?;
            // SAFETY: `buffer` is a live DirectByteBuffer; the IDs are Buffer's and DBB's fields.
            unsafe {
                fields.set_long(&buffer, ids.address, address);
                fields.set_int(&buffer, ids.capacity, capacity);
                fields.set_object(&buffer, ids.att, &owner);
            }
            // (att: the buffer and every view of it keep `owner` alive; the release watches it.)
            Ok(())
        };
        if let Err(e) = point(env) {
            // SAFETY: just allocated, never published.
            unsafe { POOL.free(block, FreedBy::Caller)? };
            return Err(e);
        }
        Ok(address)
    })
}

/// Allocates for a caller that points the buffer at the memory itself (BufferAccess.FromJava).
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_allocateMemory<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    capacity: jint,
    alignment: jint,
    reclaim: jboolean,
    waiting: JLongArray<'l>,
) -> jlong {
    guard(&mut env, 0, |env| {
        let block = allocate_block(env, capacity, alignment, reclaim, &waiting)?;
        // 0: the budget is full, and the caller asked not to reclaim, or to park.
        Ok(block.map_or(0, |block| block.ptr.as_ptr() as jlong))
    })
}

/// Frees for a caller that has disarmed the buffer itself (BufferAccess.FromJava).
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_freeMemory<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    address: jlong,
    capacity: jint,
    alignment: jint,
) {
    guard(&mut env, (), |_| {
        fail_if_armed_for_testing()?;
        let block = block(address, capacity, alignment)?;
        // SAFETY: the Java side frees each allocation once, after claiming its release.
        unsafe { POOL.free(block, FreedBy::Caller) }
    })
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_disarmAndFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    buffer: JObject<'l>,
    address: jlong,
    capacity: jint,
    alignment: jint,
) {
    guard(&mut env, (), |env| {
        fail_if_armed_for_testing()?;
        // Checked before the buffer is disarmed: a refused free leaves it as it was.
        let block = block(address, capacity, alignment)?;
        disarm(env, &buffer, None)?;
        // SAFETY: the Java side frees each allocation once, after claiming its release.
        unsafe { POOL.free(block, FreedBy::Caller) }
    })
}

/// Points a freed small buffer, which shares its block with others, at nothing, and its `att` at
/// `owner`, so that it no longer keeps the block alive.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_disarm<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    buffer: JObject<'l>,
    owner: JObject<'l>,
) {
    guard(&mut env, (), |env| disarm(env, &buffer, Some(&owner)))
}

/// Resets a buffer's address and capacity, and its `att` to `new_owner` if given. The Java
/// caller has set limit, position and mark to 0 with buffer.limit(0); with no address and no
/// room, every get and put fails its bounds check.
fn disarm(env: &mut JNIEnv, buffer: &JObject, new_owner: Option<&JObject>) -> Result<(), Error> {
    let ids = ids::get()?;
    non_null(buffer, "buffer")?;
    let fields = RawFields::of(env)?;
    // SAFETY: `buffer` is a live DirectByteBuffer that directmem allocated; `att` holds any object.
    unsafe {
        fields.set_int(buffer, ids.capacity, 0);
        fields.set_long(buffer, ids.address, 0);
        if let Some(owner) = new_owner {
            // The new `att` tells a free on another thread that this buffer is disarmed (it
            // then returns at once, after an acquire fence): the writes before it, the Java
            // caller's limit included, must be seen first. Ordered here, not left to the fences
            // of HotSpot's transitions into the VM for each JNI call.
            fence(Ordering::Release);
            fields.set_object(buffer, ids.att, owner);
        }
    }
    Ok(())
}

/// A buffer over the number of the last collection begun (8 bytes, native order), which the
/// Java side reads after each allocation to stamp the block with (see `freeBatch`).
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_collectionsBegun<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jobject {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let begun = POOL.collections_begun().as_ptr().cast::<u8>();
        // SAFETY: POOL lives as long as the process; Java only reads it (a read-only view),
        // each aligned 8-byte read whole on the 64-bit platforms directmem runs on.
        let buffer = unsafe { env.new_direct_byte_buffer(begun, 8)? };
        Ok(buffer.into_raw())
    })
}

/// Frees the blocks the reclaimer thread collected from the reference queue, in one call;
/// `stamps`: the number of the last collection begun when each was allocated (see
/// `collectionsBegun`); `more_queued`: more are waiting in the queue after these.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_freeBatch<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    addresses: JLongArray<'l>,
    capacities: JIntArray<'l>,
    alignments: JIntArray<'l>,
    stamps: JIntArray<'l>,
    count: jint,
    more_queued: jboolean,
) {
    guard(&mut env, (), |env| {
        let count = usize::try_from(count)
            .ok()
            .filter(|n| *n <= BATCH)
            .ok_or_else(|| Error::IllegalArgument(format!("batch of {count} blocks")))?;
        non_null(&addresses, "addresses")?;
        non_null(&capacities, "capacities")?;
        non_null(&alignments, "alignments")?;
        non_null(&stamps, "stamps")?;
        let mut address = [0 as jlong; BATCH];
        let mut capacity = [0 as jint; BATCH];
        let mut alignment = [0 as jint; BATCH];
        let mut stamp = [0 as jint; BATCH];
        env.get_long_array_region(&addresses, 0, &mut address[..count])?;
        env.get_int_array_region(&capacities, 0, &mut capacity[..count])?;
        env.get_int_array_region(&alignments, 0, &mut alignment[..count])?;
        env.get_int_array_region(&stamps, 0, &mut stamp[..count])?;
        // An invalid entry spoils only itself, as in Pool::free_all: the valid blocks are freed
        // (their releases are claimed, no one else will), then the first error is returned.
        let mut invalid = None;
        let blocks = (0..count)
            .filter_map(|i| match block(address[i], capacity[i], alignment[i]) {
                // The stamp's bits as Java's int holds them (the low 32 of the number).
                Ok(block) => Some(Block {
                    stamp: stamp[i] as u32,
                    ..block
                }),
                Err(e) => {
                    invalid.get_or_insert(e);
                    None
                }
            })
            .collect();
        POOL.set_reclaimer_backlog(more_queued != 0);
        // SAFETY: the Java side frees each allocation once, after claiming its release.
        let freed = unsafe { POOL.free_all(blocks, FreedBy::Reclaimer) };
        invalid.map_or(freed, Err)
    })
}

/// The largest batch `freeBatch` takes (Allocation.BATCH).
const BATCH: usize = 256;

/// Field stores straight through the JNI function table. The jni crate's `set_field_unchecked`
/// (a descriptor lookup, a log-level check and a match per call, not inlined) measured 4% of the
/// explicit path; these stores cannot raise exceptions for a valid object and field.
struct RawFields {
    env: *mut jni::sys::JNIEnv,
    set_int: unsafe extern "system" fn(*mut jni::sys::JNIEnv, jobject, jni::sys::jfieldID, jint),
    set_long: unsafe extern "system" fn(*mut jni::sys::JNIEnv, jobject, jni::sys::jfieldID, jlong),
    set_object:
        unsafe extern "system" fn(*mut jni::sys::JNIEnv, jobject, jni::sys::jfieldID, jobject),
}

impl RawFields {
    fn of(env: &JNIEnv) -> Result<Self, Error> {
        let raw = env.get_raw();
        let missing = || Error::IllegalState("JNI function table incomplete".into());
        // SAFETY: `raw` is the live JNIEnv of this thread; its table outlives the call.
        let table = unsafe { &**raw };
        Ok(RawFields {
            env: raw,
            set_int: table.SetIntField.ok_or_else(missing)?,
            set_long: table.SetLongField.ok_or_else(missing)?,
            set_object: table.SetObjectField.ok_or_else(missing)?,
        })
    }

    /// # Safety
    /// `object` must be a live reference whose class declares `field`, an `int` field.
    unsafe fn set_int(&self, object: &JObject, field: JFieldID, value: jint) {
        (self.set_int)(self.env, object.as_raw(), field.into_raw(), value)
    }

    /// # Safety
    /// As [`RawFields::set_int`], for a `long` field.
    unsafe fn set_long(&self, object: &JObject, field: JFieldID, value: jlong) {
        (self.set_long)(self.env, object.as_raw(), field.into_raw(), value)
    }

    /// # Safety
    /// As [`RawFields::set_int`], for a reference field that can hold `value`.
    unsafe fn set_object(&self, object: &JObject, field: JFieldID, value: &JObject) {
        (self.set_object)(self.env, object.as_raw(), field.into_raw(), value.as_raw())
    }
}

fn block(address: jlong, capacity: jint, alignment: jint) -> Result<Block, Error> {
    let alignment = non_negative(alignment.into(), "alignment")?;
    memory::check_alignment(alignment).map_err(Error::IllegalArgument)?;
    Ok(Block {
        ptr: NonNull::new(address as *mut u8)
            .ok_or_else(|| Error::IllegalArgument("free of a null address".into()))?,
        capacity: non_negative(capacity.into(), "capacity")?,
        alignment,
        stamp: 0,
    })
}

/// Makes a reflected field accessible, as `setAccessible(true)` would if its package were open
/// to directmem: JNI ignores Java access control, so this sets `AccessibleObject.override`. Only
/// `BufferAccess` calls it, on the buffer fields that directmem's other native calls write anyway,
/// and keeps the fields to itself; no package is opened to anyone.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_makeAccessible<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    field: JObject<'l>,
) {
    guard(&mut env, (), |env| {
        non_null(&field, "field")?;
        check_buffer_field(env, &field)?;
        let accessible = env.find_class("java/lang/reflect/AccessibleObject")?;
        let overridden = env.get_field_id(&accessible, "override", "Z")?;
        env.set_field_unchecked(&field, overridden, JValue::Bool(JNI_TRUE))?;
        Ok(())
    })
}

/// Refuses every field but the three buffer fields: the native method would set any field's
/// accessible flag for a class of this package from another jar on the class path. (Such a class
/// can still reach memory through the three, or `freeMemory`: this narrows what it gets, no more.)
fn check_buffer_field(env: &mut JNIEnv, field: &JObject) -> Result<(), Error> {
    let declaring = env
        .call_method(field, "getDeclaringClass", "()Ljava/lang/Class;", &[])?
        .l()?;
    let name = env
        .call_method(field, "getName", "()Ljava/lang/String;", &[])?
        .l()?;
    let name: String = env.get_string(&JString::from(name))?.into();
    let class = match name.as_str() {
        "address" | "capacity" => "java/nio/Buffer",
        "att" => "java/nio/DirectByteBuffer",
        _ => "",
    };
    if !class.is_empty() {
        let class = env.find_class(class)?;
        if env.is_same_object(&declaring, &class)? {
            return Ok(());
        }
    }
    Err(Error::IllegalArgument(format!(
        "makeAccessible is for java.nio's buffer fields address, capacity and att only, not {name}"
    )))
}

#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_attachment<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    buffer: JObject<'l>,
) -> jobject {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let ids = ids::get()?;
        if buffer.is_null() {
            return Ok(std::ptr::null_mut());
        }
        // The Java caller passes DirectByteBuffers only (Allocation.of checks the class), so the
        // field read cannot fail: skip the exception check, one VM transition less per free.
        let env_ptr = env.get_raw();
        // SAFETY: a live local reference to a DirectByteBuffer and its `att` field ID.
        let att = unsafe {
            let get = (**env_ptr)
                .GetObjectField
                .ok_or_else(|| Error::IllegalState("JNI GetObjectField missing".into()))?;
            get(env_ptr, buffer.as_raw(), ids.att.into_raw())
        };
        Ok(att)
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
        non_null(&buffer, "buffer")?;
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

thread_local! {
    /// Armed by [`Java_dev_directmem_Native_failNextFree`]: the error the next free throws.
    static FAIL_NEXT_FREE: std::cell::Cell<Option<jint>> = const { std::cell::Cell::new(None) };
}

/// Test hook: the calling thread's next `freeMemory` or `disarmAndFree` throws before doing
/// anything, by `error` (Native.FREE_FAILS_WITH_*): 0, a `StackOverflowError`, as a call at the
/// bottom of a deep stack would; 1, an `OutOfMemoryError`, as the linking of a native method with
/// the Java heap full would; 2, an `IllegalStateException`, as a ledger refusal would.
#[no_mangle]
pub extern "system" fn Java_dev_directmem_Native_failNextFree<'l>(
    _env: JNIEnv<'l>,
    _class: JClass<'l>,
    error: jint,
) {
    FAIL_NEXT_FREE.with(|f| f.set(Some(error)));
}

/// Runs on every free: nothing is allocated unless the hook is armed.
fn fail_if_armed_for_testing() -> Result<(), Error> {
    const HOOK: &str = "directmem: failNextFree test hook";
    match FAIL_NEXT_FREE.with(|f| f.take()) {
        None => Ok(()),
        Some(0) => Err(Error::StackOverflowForTesting),
        Some(1) => Err(Error::OutOfMemory(HOOK.to_string())),
        Some(2) => Err(Error::IllegalState(HOOK.to_string())),
        Some(other) => Err(Error::IllegalArgument(format!("{HOOK}: no error {other}"))),
    }
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
