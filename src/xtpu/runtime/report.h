// Self-contained HTML reports: one file with the data as JSON, Chart.js
// (inlined from the copy CMake found at configure time: Debian's
// libjs-chart.js or npm's chart.js) and a little page script, so it opens
// from file:// with no network.
//
// Profile report (`xtpu profile`): summary, roofline with every op placed on
// it, time by bound, per-unit utilization timeline, the sortable per-op
// table and the chip description. Sweep report (`xtpu sweep`): throughput,
// MXU utilization and fraction of the roofline against each parameter, and
// the points table with their errors.
//
// For tests the page sets window.xtpu = {charts: {name: Chart}, ops/points:
// row count} and data-* attributes on the charts' canvases.
#pragma once

#include <string>

#include "xtpu/runtime/profile.h"
#include "xtpu/runtime/sweep.h"
#include "xtpu/support/status.h"

namespace xtpu::runtime {

// Errors: Chart.js was not found when the project was configured.
StatusOr<std::string> ProfileReportHtml(const Profile& p);
StatusOr<std::string> SweepReportHtml(const SweepResult& r);

}  // namespace xtpu::runtime
