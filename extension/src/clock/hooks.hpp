// Installation of time control: the built-in table patch, the plan rewrite, shared memory and the
// session hook.
#pragma once

namespace pgut::clock {

// Installs everything; call from _PG_init while preloading with time control on.
void install_hooks();

}  // namespace pgut::clock
