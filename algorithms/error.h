// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <stdexcept>
#include <string>

namespace dml {

/// A dataset file that is missing, truncated or not in the expected format. what() names the file.
class DatasetError : public std::runtime_error {
public:
    DatasetError(std::string file, const std::string& what)
        : std::runtime_error(file + ": " + what), m_file(std::move(file)) {}
    const std::string& file() const { return m_file; }

private:
    std::string m_file;
};

/// A configuration value the algorithms cannot work with (e.g. more workers than samples).
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string path, const std::string& what)
        : std::runtime_error(path + ": " + what), m_path(std::move(path)) {}
    /// JSON path of the offending scenario field, e.g. "workload.batch_size".
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

} // namespace dml
