// A small fixed pool of worker threads for data-parallel loops. The calling thread takes
// part, so a pool of N threads starts N - 1 workers; N = 1 runs everything inline.
#ifndef SER_THREAD_POOL_H_
#define SER_THREAD_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ser {

class ThreadPool {
 public:
  // num_threads <= 0: one per hardware core.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int NumThreads() const { return static_cast<int>(workers_.size()) + 1; }
  // Calls task(i) for i in [0, n), spread over the threads; returns when all are done.
  // The first exception thrown by a task is rethrown here (the other tasks still run).
  // Calls from several threads at once take turns.
  void ParallelFor(int64_t n, const std::function<void(int64_t)>& task);

 private:
  void Work();
  void RunTasks();

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one ParallelFor at a time
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t next_ = 0, end_ = 0, busy_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace ser

#endif  // SER_THREAD_POOL_H_
