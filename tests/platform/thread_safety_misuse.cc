// Compiled by clang with -Wthread-safety -Xclang -verify (ctest
// thread_safety_analysis): each misuse below must draw exactly the warning
// written next to it, and the correct uses none. It shows that the
// annotations of platform/mutex.h reach the analysis, so the annotated
// classes of the daemons are really checked.
#include "platform/mutex.h"

// The expected diagnostics must stay on the line they are about.
// clang-format off
namespace sluice {

class Account {
 public:
  void Deposit(int v) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    balance_ += v;  // correct: no warning
  }
  void DepositUnlocked(int v) {
    balance_ += v;  // expected-warning {{writing variable 'balance_' requires holding mutex 'mu_' exclusively}}
  }
  int Peek() {
    return balance_;  // expected-warning {{reading variable 'balance_' requires holding mutex 'mu_'}}
  }
  void AddLocked(int v) REQUIRES(mu_) { balance_ += v; }
  void CallsWithoutLock() {
    AddLocked(1);  // expected-warning {{calling function 'AddLocked' requires holding mutex 'mu_' exclusively}}
  }
  void LocksTwice() {
    MutexLock lock(&mu_);
    Deposit(1);  // expected-warning {{cannot call function 'Deposit' while mutex 'mu_' is held}}
  }
  void Leaks() {
    mu_.Lock();  // expected-note {{mutex acquired here}}
  }  // expected-warning {{mutex 'mu_' is still held at the end of function}}
  void WaitsWithoutLock() {
    cv_.Wait(&mu_);  // expected-warning {{calling function 'Wait' requires holding mutex 'mu_' exclusively}}
  }
  int* Data() {
    return data_;  // reading the pointer itself needs no lock
  }
  void WritesPointee() {
    *data_ = 1;  // expected-warning {{writing the value pointed to by 'data_' requires holding mutex 'mu_' exclusively}}
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int balance_ GUARDED_BY(mu_) = 0;
  int* data_ PT_GUARDED_BY(mu_) = nullptr;
};

class Table {
 public:
  int Read() EXCLUDES(mu_) {
    ReaderMutexLock lock(&mu_);
    return rows_;  // correct: reading under a shared lock
  }
  void WriteUnderReaderLock() {
    ReaderMutexLock lock(&mu_);
    rows_ = 1;  // expected-warning {{writing variable 'rows_' requires holding shared_mutex 'mu_' exclusively}}
  }
  void Write() EXCLUDES(mu_) {
    WriterMutexLock lock(&mu_);
    rows_ = 2;  // correct
  }

 private:
  SharedMutex mu_;
  int rows_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice
// clang-format on
