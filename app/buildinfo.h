// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The build that made this program, recorded with every run (the store's runs.build, `dmlsim --version`, the
// stream's "started" event). Generated at configure time from buildinfo.cpp.in. Two runs of the same scenario
// and seed are bit-identical when their build strings are equal, on any machine for a portable build
// (CMake DMLSIM_PORTABLE) and on machines with the same CPU model otherwise (README "Reproducibility").

namespace dml::app {

/// One line of "key=value" fields separated by "; ": version, compiler (id and version), isa (the flags that
/// choose the instruction set and floating-point contraction; -march=native with the CPU the compiler resolved
/// it to at configure time), build_type (with its optimisation flags), portable (yes/no), eigen and simgrid
/// (the versions compiled against). E.g.
/// "version=0.1.0; compiler=GNU 12.2.0; isa=-march=native (cooperlake); build_type=Release (-O3 -DNDEBUG);
/// portable=no; eigen=3.4.0; simgrid=3.32".
const char* buildString();

/// Whether this is a portable build (CMake option DMLSIM_PORTABLE).
bool buildPortable();

} // namespace dml::app
