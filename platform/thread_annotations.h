// Clang thread-safety annotations: which mutex guards which member, which
// functions must be called with it held or without it. Clang checks them
// at compile time with -Wthread-safety (the clang build in deploy/test.sh
// makes any finding an error); for other compilers they expand to nothing.
//
//   class Queue {
//    public:
//     void Push(int v) EXCLUDES(mu_) {
//       MutexLock lock(&mu_);
//       items_.push_back(v);
//     }
//    private:
//     void DrainLocked() REQUIRES(mu_);
//     Mutex mu_;
//     std::vector<int> items_ GUARDED_BY(mu_);
//   };
//
// The capabilities are the types in platform/mutex.h (libstdc++'s
// std::mutex carries no annotations, so the analysis cannot see it).
// Reference: https://clang.llvm.org/docs/ThreadSafetyAnalysis.html
//
// Macros only; nothing to be thread-safe about.
#pragma once

#if defined(__clang__)
#define SLUICE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SLUICE_THREAD_ANNOTATION(x)  // GCC has no thread-safety analysis
#endif

// Abseil (pulled in by gRPC) defines some of the same names with the same
// meaning; ours replace them wherever this header comes later.
#undef CAPABILITY
#undef SCOPED_CAPABILITY
#undef GUARDED_BY
#undef PT_GUARDED_BY
#undef ACQUIRED_BEFORE
#undef ACQUIRED_AFTER
#undef REQUIRES
#undef REQUIRES_SHARED
#undef ACQUIRE
#undef ACQUIRE_SHARED
#undef RELEASE
#undef RELEASE_SHARED
#undef TRY_ACQUIRE
#undef EXCLUDES
#undef ASSERT_CAPABILITY
#undef RETURN_CAPABILITY
#undef NO_THREAD_SAFETY_ANALYSIS

// A type that is a lock ("mutex"); a RAII type that holds one for a scope.
#define CAPABILITY(x) SLUICE_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY SLUICE_THREAD_ANNOTATION(scoped_lockable)

// A member read or written only with the lock held (shared for reads
// suffices for a shared lock); PT_: the data the pointer points to.
#define GUARDED_BY(x) SLUICE_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) SLUICE_THREAD_ANNOTATION(pt_guarded_by(x))

// Lock order: this lock is taken before / after the ones named.
#define ACQUIRED_BEFORE(...) \
  SLUICE_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) \
  SLUICE_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// The caller must hold the lock (exclusively / at least shared).
#define REQUIRES(...) SLUICE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) \
  SLUICE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))

// The function takes / gives back the lock (no argument: `this`).
#define ACQUIRE(...) SLUICE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) \
  SLUICE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SLUICE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) \
  SLUICE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) \
  SLUICE_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// The caller must not hold the lock (the function takes it itself).
#define EXCLUDES(...) SLUICE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// Tells the analysis the lock is held here (checked at run time, if at all,
// by the function itself).
#define ASSERT_CAPABILITY(x) SLUICE_THREAD_ANNOTATION(assert_capability(x))

// The function returns a reference to the lock named.
#define RETURN_CAPABILITY(x) SLUICE_THREAD_ANNOTATION(lock_returned(x))

// Turns the analysis off for one function; say why where it is used.
#define NO_THREAD_SAFETY_ANALYSIS \
  SLUICE_THREAD_ANNOTATION(no_thread_safety_analysis)
