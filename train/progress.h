// A one-line progress report for long work: "label  step/total  rate/s  ETA  extra", redrawn in place on
// a terminal and printed every few seconds otherwise (logs stay readable).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace hardtune {

class Progress {
 public:
  Progress(std::string label, long total, std::string unit = "it")
      : label_(std::move(label)), unit_(std::move(unit)), total_(total), start_(Clock::now()), last_(start_),
        tty_(::isatty(::fileno(stderr))) {}

  void update(long done, const std::string& extra = "") {
    const auto now = Clock::now();
    const bool finished = done >= total_;
    if (!finished && now - last_ < (tty_ ? std::chrono::milliseconds(100) : std::chrono::seconds(5))) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? done / elapsed : 0.0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
    std::fprintf(stderr, "%s%s %ld/%ld  %.1f %s/s  %s %s  %s%s", tty_ ? "\r\033[K" : "", label_.c_str(), done,
                 total_, rate, unit_.c_str(), finished ? "took" : "ETA", format_seconds(finished ? elapsed : eta).c_str(),
                 extra.c_str(),
                 tty_ && !finished ? "" : "\n");
    std::fflush(stderr);
  }

  static std::string format_seconds(double s) {
    char buf[32];
    const long t = static_cast<long>(s + 0.5);
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    return buf;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_, unit_;
  long total_;
  Clock::time_point start_, last_;
  bool tty_;
};

}  // namespace hardtune
