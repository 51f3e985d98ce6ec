// Installation of time control: the built-in table patch and the plan rewrite.
#pragma once

namespace pgut::clock {

// Installs everything; call from _PG_init while preloading with time control on.
void install_hooks();

}  // namespace pgut::clock
