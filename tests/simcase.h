// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Registry of simulation test cases: `simcases <Class> [Qt Test options]` runs one Qt Test class, so each
// simulation has a process of its own.
#include <QObject>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace dml::test {

using CaseFactory = std::function<std::unique_ptr<QObject>()>;
std::map<std::string, CaseFactory>& simCases();

struct CaseRegistration {
    CaseRegistration(const char* name, CaseFactory f) { simCases().emplace(name, std::move(f)); }
};

} // namespace dml::test

#define DML_SIM_CASE(Class)                                                                                     \
    static const dml::test::CaseRegistration registration_##Class(#Class,                                       \
                                                                   [] { return std::make_unique<Class>(); })
