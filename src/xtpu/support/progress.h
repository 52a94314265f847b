// A progress bar on stderr for long commands: "[stage] 37% |###   | 1.2s
// elapsed ~2.0s left". It stays silent for the first second (short runs print
// nothing), redraws at most 10 times a second, and is off unless stderr is a
// terminal. Update() is cheap when nothing is drawn, so hooks may call it
// often; one thread calls it (the sweep polls a counter from its main thread).
//
//   Progress progress(Progress::Enabled(quiet));
//   progress.Update("simulate", done / double(total));
//   progress.Finish();  // clears the line
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace xtpu {

class Progress {
 public:
  // The delay before the first draw is 1 s, or XTPU_PROGRESS_DELAY seconds
  // if that is set (tests use 0).
  explicit Progress(bool enabled);
  ~Progress() { Finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // True when stderr is a terminal and the command was not asked to be quiet.
  static bool Enabled(bool quiet);

  // `fraction` in [0, 1], or negative when the total is unknown (then only
  // the elapsed time is shown). A new stage restarts its clock.
  void Update(std::string_view stage, double fraction, std::string_view detail = {});
  // Clears the bar if one was drawn.
  void Finish();

  // The line Update draws (without "\r"), for tests.
  static std::string Format(std::string_view stage, double fraction, double elapsed_s, std::string_view detail);

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  Clock::duration delay_;
  Clock::time_point start_, stage_start_ = Clock::now(), last_draw_{};
  std::string stage_;
  size_t drawn_ = 0;  // width of the line on screen
};

}  // namespace xtpu
