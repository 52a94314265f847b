#include "xtpu/support/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

namespace xtpu {

Progress::Progress(bool enabled) : enabled_(enabled), delay_(std::chrono::seconds(1)), start_(Clock::now()) {
  if (const char* d = std::getenv("XTPU_PROGRESS_DELAY")) {
    char* end = nullptr;
    double s = std::strtod(d, &end);
    if (end != d && s >= 0 && s < 1e6) delay_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
}

bool Progress::Enabled(bool quiet) { return !quiet && isatty(2) == 1; }

std::string Progress::Format(std::string_view stage, double fraction, double elapsed_s, std::string_view detail) {
  std::string s = fmt::format("[{}]", stage);
  if (fraction >= 0) {
    fraction = std::min(1.0, fraction);
    constexpr int kWidth = 24;
    int filled = static_cast<int>(fraction * kWidth);
    s += fmt::format(" {:3.0f}% |{}{}|", 100 * fraction, std::string(filled, '#'), std::string(kWidth - filled, ' '));
  }
  if (!detail.empty()) s += fmt::format(" {}", detail);
  s += fmt::format(" {:.1f}s elapsed", elapsed_s);
  // The rate so far, once there is enough of it to extrapolate.
  if (fraction > 0.02 && fraction < 1) s += fmt::format(" ~{:.1f}s left", elapsed_s * (1 - fraction) / fraction);
  return s;
}

void Progress::Update(std::string_view stage, double fraction, std::string_view detail) {
  if (!enabled_) return;
  Clock::time_point now = Clock::now();
  if (stage != stage_) {
    stage_ = std::string(stage);
    stage_start_ = now;
  } else if (now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  if (now - start_ < delay_) return;
  last_draw_ = now;
  std::string line = Format(stage, fraction, std::chrono::duration<double>(now - stage_start_).count(), detail);
  size_t width = line.size();
  if (width < drawn_) line += std::string(drawn_ - width, ' ');
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  drawn_ = width;
}

void Progress::Finish() {
  if (drawn_ == 0) return;
  std::fprintf(stderr, "\r%s\r", std::string(drawn_, ' ').c_str());
  std::fflush(stderr);
  drawn_ = 0;
}

}  // namespace xtpu
