// SPDX-License-Identifier: GPL-3.0-or-later
#include "data/dataset.h"

#include "error.h"
#include "rng.h"

#include <zlib.h>

#include <array>
#include <filesystem>
#include <memory>

namespace dml {
namespace {

/// Reads a whole gzip (or plain: gzread passes those through) file.
std::vector<std::uint8_t> readGz(const std::string& file)
{
    std::error_code ec; // e.g. a name too long for the file system: an error naming the file, not an abort
    if (!std::filesystem::exists(file, ec))
        throw DatasetError(file, ec ? "cannot read: " + ec.message() : std::string("file not found"));
    gzFile f = gzopen(file.c_str(), "rb");
    if (!f)
        throw DatasetError(file, "cannot open");
    std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, gzclose);
    gzbuffer(f, 1 << 17);
    std::vector<std::uint8_t> out;
    std::array<std::uint8_t, 1 << 16> buf;
    for (;;) {
        const int n = gzread(f, buf.data(), unsigned(buf.size()));
        if (n < 0) {
            int err = 0;
            throw DatasetError(file, std::string("corrupt gzip data: ") + gzerror(f, &err));
        }
        if (n == 0)
            break;
        out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
    return out;
}

std::uint32_t bigEndian32(const std::vector<std::uint8_t>& b, std::size_t at)
{
    return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 | b[at + 3];
}

std::string hex(std::uint32_t v)
{
    char s[16];
    std::snprintf(s, sizeof s, "0x%08X", v);
    return s;
}

} // namespace

Eigen::MatrixXf readIdxImages(const std::string& file)
{
    const auto bytes = readGz(file);
    if (bytes.size() < 16)
        throw DatasetError(file, "truncated: " + std::to_string(bytes.size()) + " bytes, the IDX header needs 16");
    const auto magic = bigEndian32(bytes, 0);
    if (magic != 0x00000803)
        throw DatasetError(file, "wrong magic number " + hex(magic) + ", expected 0x00000803 (IDX uint8 images)");
    const std::size_t count = bigEndian32(bytes, 4), rows = bigEndian32(bytes, 8), cols = bigEndian32(bytes, 12);
    const std::size_t need = 16 + count * rows * cols;
    if (bytes.size() < need)
        throw DatasetError(file, "truncated: " + std::to_string(bytes.size()) + " bytes, header announces " +
                                     std::to_string(count) + " images of " + std::to_string(rows) + "x" +
                                     std::to_string(cols) + " (" + std::to_string(need) + " bytes)");
    Eigen::MatrixXf m(Eigen::Index(rows * cols), Eigen::Index(count));
    const std::uint8_t* p = bytes.data() + 16;
    float* out = m.data();
    for (std::size_t i = 0; i < count * rows * cols; ++i)
        out[i] = float(p[i]) * (1.0f / 255.0f);
    return m;
}

std::vector<std::uint8_t> readIdxLabels(const std::string& file)
{
    const auto bytes = readGz(file);
    if (bytes.size() < 8)
        throw DatasetError(file, "truncated: " + std::to_string(bytes.size()) + " bytes, the IDX header needs 8");
    const auto magic = bigEndian32(bytes, 0);
    if (magic != 0x00000801)
        throw DatasetError(file, "wrong magic number " + hex(magic) + ", expected 0x00000801 (IDX uint8 labels)");
    const std::size_t count = bigEndian32(bytes, 4);
    if (bytes.size() < 8 + count)
        throw DatasetError(file, "truncated: " + std::to_string(bytes.size()) + " bytes, header announces " +
                                     std::to_string(count) + " labels");
    return {bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(count)};
}

namespace {
Dataset loadPair(const std::string& dir, const std::string& prefix, int maxSamples)
{
    const std::string imgFile = dir + "/" + prefix + "-images-idx3-ubyte.gz";
    const std::string lblFile = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
    Dataset d;
    d.features = readIdxImages(imgFile);
    d.labels = readIdxLabels(lblFile);
    d.classes = 10;
    if (std::size_t(d.features.cols()) != d.labels.size())
        throw DatasetError(lblFile, std::to_string(d.labels.size()) + " labels for " +
                                        std::to_string(d.features.cols()) + " images in " + imgFile);
    for (auto l : d.labels)
        if (l >= d.classes)
            throw DatasetError(lblFile, "label " + std::to_string(l) + " outside [0, 10)");
    if (maxSamples > 0 && maxSamples < d.numSamples()) {
        d.features.conservativeResize(Eigen::NoChange, maxSamples);
        d.labels.resize(std::size_t(maxSamples));
    }
    return d;
}
} // namespace

TrainTest loadFashionMnist(const std::string& dir, int maxTrain, int maxTest)
{
    return {loadPair(dir, "train", maxTrain), loadPair(dir, "t10k", maxTest)};
}

TrainTest makeSyntheticBlobs(const SyntheticSpec& spec, std::uint64_t seed)
{
    Rng rng(deriveSeed(seed, 0x5E7));
    Eigen::MatrixXf centres(spec.features, spec.classes);
    const double scale = spec.separation / std::sqrt(double(spec.features));
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = float(rng.normal() * scale);
    auto make = [&](int n) {
        Dataset d;
        d.classes = spec.classes;
        d.features.resize(spec.features, n);
        d.labels.resize(std::size_t(n));
        for (int j = 0; j < n; ++j) {
            const int c = j % spec.classes;
            d.labels[std::size_t(j)] = std::uint8_t(c);
            for (int f = 0; f < spec.features; ++f)
                d.features(f, j) = centres(f, c) + float(rng.normal());
        }
        return d;
    };
    TrainTest tt;
    tt.train = make(spec.trainSamples);
    tt.test = make(spec.testSamples);
    return tt;
}

} // namespace dml
