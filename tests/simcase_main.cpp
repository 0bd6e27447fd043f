// SPDX-License-Identifier: GPL-3.0-or-later
#include "simcase.h"

#include <QCoreApplication>
#include <QTest>

#include <cstdio>

namespace dml::test {
std::map<std::string, CaseFactory>& simCases()
{
    static std::map<std::string, CaseFactory> cases;
    return cases;
}
} // namespace dml::test

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    const auto& cases = dml::test::simCases();
    const auto it = argc > 1 ? cases.find(argv[1]) : cases.end();
    if (it == cases.end()) {
        std::fprintf(stderr, "usage: simcases <case> [Qt Test options]\ncases:\n");
        for (const auto& [name, f] : cases)
            std::fprintf(stderr, "  %s\n", name.c_str());
        return 2;
    }
    auto test = it->second();
    argv[1] = argv[0]; // QTest sees: program, options
    return QTest::qExec(test.get(), argc - 1, argv + 1);
}
