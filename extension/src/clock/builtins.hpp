// See builtins.cpp.
#pragma once

namespace pgut::clock {

// Routes the built-in clock functions through the extension (call once, in the postmaster).
void install_builtin_clocks();
// True when the routing is in place (false if the platform refused to patch the table).
bool builtin_clocks_installed();

}  // namespace pgut::clock
