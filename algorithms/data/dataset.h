// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace dml {

/// A labelled classification dataset held column-major: one sample per column.
struct Dataset {
    Eigen::MatrixXf features;          ///< features x samples, values in [0, 1] for images
    std::vector<std::uint8_t> labels;  ///< samples, each in [0, classes)
    int classes = 0;

    int numSamples() const { return int(features.cols()); }
    int numFeatures() const { return int(features.rows()); }
};

struct TrainTest {
    Dataset train;
    Dataset test;
};

/// Reads one gzip-compressed (or plain) IDX image file: magic 0x00000803, count, rows, cols, uint8 pixels.
/// Returns a (rows*cols) x count matrix scaled to [0, 1].
/// Throws DatasetError naming the file when it is missing, truncated or has a wrong magic number.
Eigen::MatrixXf readIdxImages(const std::string& file);

/// Reads one IDX label file: magic 0x00000801, count, uint8 labels. Throws DatasetError as above.
std::vector<std::uint8_t> readIdxLabels(const std::string& file);

/// Loads Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from `dir`, which holds
/// train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
/// t10k-labels-idx1-ubyte.gz: 60,000 train and 10,000 test images of 28x28 = 784 features, 10 classes.
/// `maxTrain`/`maxTest` (if > 0) keep only the first samples (for fast tests).
/// Throws DatasetError naming the file.
TrainTest loadFashionMnist(const std::string& dir, int maxTrain = 0, int maxTest = 0);

/// Parameters of the synthetic Gaussian-blob dataset.
struct SyntheticSpec {
    int classes = 10;
    int features = 32;
    int trainSamples = 4000;
    int testSamples = 1000;
    double separation = 3.0; ///< distance scale of the class centres, in units of the within-class std-dev
};

/// A seeded synthetic classification set: class c has a centre drawn from N(0, separation^2 / features) per
/// feature; samples are centre + N(0, 1) per feature, labels cycle through the classes.
TrainTest makeSyntheticBlobs(const SyntheticSpec& spec, std::uint64_t seed);

} // namespace dml
