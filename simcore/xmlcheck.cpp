// SPDX-License-Identifier: GPL-3.0-or-later
#include "xmlcheck.h"

#include <simgrid/Exception.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>

// SimGrid 3.32's XML lexer line counter (flex's yylineno, exported by libsimgrid but in no public header). Weak: if a
// SimGrid build lacks it, errors simply carry no line.
extern "C" int surf_parse_lineno __attribute__((weak));

namespace dml::sim {
namespace {

namespace sg4 = simgrid::s4u;

// What the child tells the parent, on its stderr (shared with SimGrid's own output): one marker line each.
constexpr const char* kVerdict = "@@dmlsim-xmlcheck-error@@ ";   // LINE KIND MESSAGE (LINE 0 = unknown)
constexpr const char* kCrashLine = "@@dmlsim-xmlcheck-line@@ ";  // LINE: where the parser was when the child died

volatile sig_atomic_t g_parsing = 0; // the child is inside load_platform (surf_parse_lineno is meaningful)

int parseLine()
{
    return g_parsing && &surf_parse_lineno != nullptr ? surf_parse_lineno : 0;
}

/// Async-signal-safe: writes the parser's line to stderr, then dies of the same signal.
void onFatalSignal(int sig)
{
    const int line = parseLine();
    if (line > 0) {
        char buf[64];
        std::size_t n = std::strlen(kCrashLine);
        std::memcpy(buf, kCrashLine, n);
        char digits[16];
        int k = 0;
        for (int v = line; v > 0 && k < 15; v /= 10)
            digits[k++] = char('0' + v % 10);
        while (k > 0)
            buf[n++] = digits[--k];
        buf[n++] = '\n';
        [[maybe_unused]] const ssize_t w = write(STDERR_FILENO, buf, n);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/// One line, at most 600 characters (SimGrid lists every netpoint of the platform in some messages).
std::string flatten(std::string s)
{
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
    while (!s.empty() && s.back() == ' ')
        s.pop_back();
    if (s.size() > 600)
        s = s.substr(0, 600) + "...";
    return s;
}

/// KIND: 'S' SimGrid refused the file (its message), 'D' dmlsim's own check of what SimGrid accepted.
[[noreturn]] void verdict(int line, char kind, const std::string& message)
{
    const std::string text =
        std::string("\n") + kVerdict + std::to_string(line) + " " + kind + " " + flatten(message) + "\n";
    [[maybe_unused]] const ssize_t w = write(STDERR_FILENO, text.data(), text.size());
    _exit(1);
}

std::string number(double x)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
}

/// What no simulation can use although SimGrid accepts it, or "".
std::string hostProblem(const sg4::Host& h)
{
    for (unsigned long i = 0; i < h.get_pstate_count(); ++i) {
        const double s = h.get_pstate_speed(i);
        if (!(s > 0) || !std::isfinite(s))
            return "host \"" + h.get_name() + "\": speed " + number(s) + " flops/s" +
                   (h.get_pstate_count() > 1 ? " (pstate " + std::to_string(i) + ")" : std::string()) +
                   "; expected a positive finite speed";
    }
    return "";
}

std::string linkProblem(const sg4::Link& l)
{
    const double bw = l.get_bandwidth(), lat = l.get_latency();
    if (!(bw > 0) || !std::isfinite(bw))
        return "link \"" + l.get_name() + "\": bandwidth " + number(bw) + " bytes/s; expected a positive finite bandwidth";
    if (!(lat >= 0) || !std::isfinite(lat))
        return "link \"" + l.get_name() + "\": latency " + number(lat) + " s; expected a finite latency >= 0";
    return "";
}

/// The child: loads and seals `file`, reports the first problem on stderr (kVerdict) and exits 1, or exits 0.
[[noreturn]] void child(const std::string& file, int errFd, unsigned timeoutSeconds)
{
    alarm(timeoutSeconds); // SIGALRM's default action ends a child that hangs (the parent reports it)
    dup2(errFd, STDERR_FILENO);
    close(errFd);
    // A crash in here is a verdict, not a bug to debug: no core file, and no handler inherited from the caller
    // (Qt Test's starts a debugger).
    const rlimit noCore{0, 0};
    setrlimit(RLIMIT_CORE, &noCore);
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL})
        signal(sig, SIG_DFL);
    const int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        close(null);
    }
    try {
        static int argc = 2;
        static char arg0[] = "dmlsim-xmlcheck";
        static char arg1[] = "--log=root.thresh:warning";
        static char* argv[] = {arg0, arg1, nullptr};
        // Never destroyed: the destructor would reset the parser's line before the catch below reads it.
        auto* engine = new sg4::Engine(&argc, argv);
        for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
            signal(sig, onFatalSignal);
        // Hosts and links are checked as SimGrid seals them, while its parser is at their element.
        sg4::Host::on_creation_cb([](const sg4::Host& h) {
            if (const std::string p = hostProblem(h); !p.empty())
                verdict(parseLine(), 'D', p);
        });
        sg4::Link::on_creation_cb([](const sg4::Link& l) {
            if (const std::string p = linkProblem(l); !p.empty())
                verdict(parseLine(), 'D', p);
        });
        g_parsing = 1;
        engine->load_platform(file);
        g_parsing = 0;
        engine->seal_platform();
        for (const sg4::Host* h : engine->get_all_hosts())
            if (const std::string p = hostProblem(*h); !p.empty())
                verdict(0, 'D', p);
        for (const sg4::Link* l : engine->get_all_links())
            if (const std::string p = linkProblem(*l); !p.empty())
                verdict(0, 'D', p);
    } catch (const simgrid::ParseError& e) {
        // "Parse error at FILE:LINE: MESSAGE"
        static const std::regex re(R"(^Parse error at .*:(\d+): ([\s\S]*)$)");
        std::smatch m;
        const std::string what = e.what();
        if (std::regex_match(what, m, re))
            verdict(std::atoi(m[1].str().c_str()), 'S', m[2].str());
        verdict(parseLine(), 'S', what);
    } catch (const std::exception& e) {
        verdict(parseLine(), 'S', e.what());
    } catch (...) {
        verdict(parseLine(), 'S', "unknown exception");
    }
    _exit(0);
}

/// SimGrid's message from the output of a child that died: its CRITICAL log line (xbt_die, xbt_assert), else "".
std::string criticalMessage(const std::string& out)
{
    std::string found;
    std::size_t pos = 0;
    while (pos < out.size()) {
        std::size_t end = out.find('\n', pos);
        if (end == std::string::npos)
            end = out.size();
        const std::string line = out.substr(pos, end - pos);
        if (const std::size_t c = line.find("/CRITICAL] "); c != std::string::npos && found.empty())
            found = line.substr(c + std::strlen("/CRITICAL] "));
        pos = end + 1;
    }
    return found;
}

/// SimGrid's wording made shorter and, for the most common mistake, actionable.
std::string explain(std::string msg, const std::string& file)
{
    static const std::regex invalid(R"(Invalid XML \(XML input line \d+, state \d+\): )");
    msg = std::regex_replace(msg, invalid, "invalid XML: ");
    if (msg.find("in prolog") != std::string::npos) {
        std::string head;
        if (FILE* f = std::fopen(file.c_str(), "rb")) {
            char buf[4096];
            head.assign(buf, std::fread(buf, 1, sizeof buf, f));
            std::fclose(f);
        }
        if (head.find("<!DOCTYPE") == std::string::npos)
            msg += " (SimGrid needs <!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\"> before <platform>)";
    }
    return msg;
}

} // namespace

std::optional<std::string> validatePlatformXml(const std::string& file, unsigned timeoutSeconds)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return file + ": cannot check it with SimGrid: pipe: " + std::strerror(errno);
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return file + ": cannot check it with SimGrid: fork: " + std::strerror(errno);
    }
    if (pid == 0) {
        close(fds[0]);
        child(file, fds[1], timeoutSeconds);
    }
    close(fds[1]);
    std::string out;
    char buf[8192];
    for (;;) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out.size() < (1u << 20)) // keep the first MiB (warnings can be many on a big platform)
            out.append(buf, std::size_t(n));
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return std::nullopt;

    auto at = [&](int line) {
        // The lexer may have read the final newline when SimGrid fails at the last element: never past the last line.
        if (line > 1) {
            int lines = 0;
            bool open = false;
            if (FILE* f = std::fopen(file.c_str(), "rb")) {
                for (int c; (c = std::fgetc(f)) != EOF && lines < line;) {
                    open = c != '\n';
                    lines += c == '\n';
                }
                std::fclose(f);
            }
            line = std::min(line, lines + (open ? 1 : 0));
        }
        return file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": ";
    };
    if (const std::size_t v = out.find(kVerdict); v != std::string::npos) {
        const std::size_t start = v + std::strlen(kVerdict);
        const std::size_t end = out.find('\n', start);
        const std::string rest = out.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const int line = std::atoi(rest.c_str());
        const std::size_t space = rest.find(' ');
        const char kind = space != std::string::npos && space + 1 < rest.size() ? rest[space + 1] : 'S';
        const std::string msg =
            space != std::string::npos && space + 3 <= rest.size() ? rest.substr(space + 3) : std::string();
        if (kind == 'D')
            return at(line) + msg;
        return at(line) + "SimGrid cannot load it: " + explain(msg, file);
    }
    int line = 0;
    if (const std::size_t c = out.find(kCrashLine); c != std::string::npos)
        line = std::atoi(out.c_str() + c + std::strlen(kCrashLine));
    std::string msg = flatten(criticalMessage(out));
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return at(line) + "SimGrid took more than " + std::to_string(timeoutSeconds) +
               " s to load it (is it a very large platform, or a pipe nobody writes to?)";
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const std::string how = "SimGrid " + std::string(sig == SIGABRT ? "aborted" : "crashed") + " loading it (" +
                                strsignal(sig) + ")";
        return at(line) + how + (msg.empty() ? std::string() : ": " + explain(msg, file));
    }
    return at(line) + "SimGrid cannot load it (exit code " + std::to_string(WEXITSTATUS(status)) + ")" +
           (msg.empty() ? std::string() : ": " + explain(msg, file));
}

} // namespace dml::sim
