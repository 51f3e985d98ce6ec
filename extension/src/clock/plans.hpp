// See plans.cpp.
#pragma once

namespace pgut::clock {

// Installs the planner and utility hooks that rewrite CURRENT_DATE and its siblings.
void install_plan_rewrite();

}  // namespace pgut::clock
