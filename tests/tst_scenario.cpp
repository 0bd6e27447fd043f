// SPDX-License-Identifier: GPL-3.0-or-later
// Scenario files and SimGrid unit strings: every error names the JSON path and what was expected.
#include "scenario.h"
#include "units.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace dml;
using namespace dml::app;

namespace {

std::string baseScenario()
{
    QFile f(DMLSIM_SOURCE_DIR "/scenarios/quickstart.json");
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read the quickstart scenario");
    return f.readAll().toStdString();
}

/// Replaces the first occurrence of `from` in the quickstart scenario.
std::string edited(const std::string& from, const std::string& to)
{
    std::string s = baseScenario();
    const auto at = s.find(from);
    if (at == std::string::npos)
        qFatal("'%s' not in the quickstart scenario", from.c_str());
    return s.replace(at, from.size(), to);
}

} // namespace

class TestScenario : public QObject {
    Q_OBJECT
private slots:
    void units_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("kind");
        QTest::addColumn<double>("value");
        QTest::newRow("Gbps") << "10Gbps" << int(UnitKind::Bandwidth) << 1.25e9;
        QTest::newRow("MBps") << "100MBps" << int(UnitKind::Bandwidth) << 1e8;
        QTest::newRow("GiBps") << "1GiBps" << int(UnitKind::Bandwidth) << 1073741824.0;
        QTest::newRow("kbps") << "8kbps" << int(UnitKind::Bandwidth) << 1000.0;
        QTest::newRow("us") << "50us" << int(UnitKind::Time) << 50e-6;
        QTest::newRow("ms") << "20ms" << int(UnitKind::Time) << 0.02;
        QTest::newRow("s") << "1.5s" << int(UnitKind::Time) << 1.5;
        QTest::newRow("Gf") << "2Gf" << int(UnitKind::Speed) << 2e9;
        QTest::newRow("Tflops") << "1.5Tflops" << int(UnitKind::Speed) << 1.5e12;
        QTest::newRow("a100 preset") << "a100-bf16" << int(UnitKind::Speed) << 312e12;
        QTest::newRow("h100 preset") << "h100" << int(UnitKind::Speed) << 67e12;
        QTest::newRow("MiB") << "64MiB" << int(UnitKind::Size) << 67108864.0;
    }
    void units()
    {
        QFETCH(QString, text);
        QFETCH(int, kind);
        QFETCH(double, value);
        const auto v = parseUnit(text.toStdString(), UnitKind(kind));
        QVERIFY(v.has_value());
        QCOMPARE(*v, value);
    }

    void badUnits()
    {
        QVERIFY(!parseUnit("10", UnitKind::Bandwidth));       // a unit is required
        QVERIFY(!parseUnit("10Gbit", UnitKind::Bandwidth));
        QVERIFY(!parseUnit("Gbps", UnitKind::Bandwidth));
        QVERIFY(!parseUnit("10Gbps", UnitKind::Time));         // wrong kind
        QVERIFY(!parseUnit(" 5s", UnitKind::Time));
    }

    void nodesParseAndSetTheHierarchicalNodeSize()
    {
        std::string text = edited("\"worker_speed\": \"10Gf\"",
                                  "\"worker_speed\": \"h100-bf16\", \"node\": {\"gpus\": 4, \"interconnect\": "
                                  "\"pcie4\", \"latency\": \"2us\"}");
        const Scenario plain = parseScenario(text, "q.json");
        QCOMPARE(plain.sim.platform.node.gpus, 4);
        QCOMPARE(plain.sim.platform.node.bandwidth, 3.15e10);
        QCOMPARE(plain.sim.platform.node.latency, 2e-6);
        QCOMPARE(plain.sim.platform.workerSpeed, 989.5e12);
        QCOMPARE(plain.sim.strategy.collective.ranksPerNode, 1);
        const std::string from = "\"strategy\": { \"type\": \"sync-ps\" }";
        QVERIFY(text.find(from) != std::string::npos);
        text.replace(text.find(from), from.size(),
                     "\"strategy\": { \"type\": \"ring-allreduce\", \"collective\": \"hierarchical\" }");
        const Scenario hier = parseScenario(text, "q.json");
        QCOMPARE(hier.sim.strategy.collective.ranksPerNode, 4); // the platform's node
        text.replace(text.find("\"gpus\": 4"), 9, "\"gpus\": 3");
        try {
            parseScenario(text, "q.json");
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QVERIFY2(QString(e.what()).contains("platform.node.gpus: the hierarchical all-reduce needs whole nodes: 8 "
                                                "workers are not a multiple of 3"), e.what());
        }
    }

    void quickstartIsValid()
    {
        const Scenario s = parseScenario(baseScenario(), "quickstart.json");
        QCOMPARE(s.sim.platform.workers, 8);
        QCOMPARE(s.sim.platform.linkBandwidth, 1.25e9);
        QCOMPARE(s.sim.platform.linkLatency, 50e-6);
        QCOMPARE(s.sim.training.hidden, std::vector<int>{256});
        QCOMPARE(s.sim.training.seed, std::uint64_t(42));
        QCOMPARE(s.sim.strategy.workers, 8);
        QVERIFY(s.sim.platform.network == sim::NetworkModel::Tcp);
    }

    void errorsNameThePath_data()
    {
        QTest::addColumn<QString>("from");
        QTest::addColumn<QString>("to");
        QTest::addColumn<QString>("message");
        QTest::newRow("negative bandwidth")
            << "\"link_bandwidth\": \"10Gbps\"" << "\"link_bandwidth\": \"-5\""
            << "q.json: platform.link_bandwidth: expected a bandwidth such as \"10Gbps\" (greater than zero), got \"-5\"";
        QTest::newRow("denormal bandwidth") // issue 18: a limit, not a stalled simulation
            << "\"link_bandwidth\": \"10Gbps\"" << "\"link_bandwidth\": \"1e-320Gbps\""
            << "q.json: platform.link_bandwidth: expected a bandwidth such as \"10Gbps\" between 0.125 and 1e+15 in base "
               "units (bytes/s), got \"1e-320Gbps\"";
        QTest::newRow("absurd latency")
            << "\"link_latency\": \"50us\"" << "\"link_latency\": \"1e300s\""
            << "q.json: platform.link_latency: expected a duration such as \"50us\" between 1e-12 and 1e+09";
        QTest::newRow("overflowing speed")
            << "\"worker_speed\": \"10Gf\"" << "\"worker_speed\": \"1e308Tf\""
            << "q.json: platform.worker_speed: expected a speed such as \"100Gf\" or an accelerator such as \"a100\" (greater than zero), got \"1e308Tf\"";
        QTest::newRow("NUL in a string") // issue 18: it used to cut the error messages that quote it
            << "\"path\": \"/usr/share/datasets/fashion-mnist\"" << "\"path\": \"/usr/share/dat\\u0000a\""
            << "q.json: workload.dataset.path: expected a string without NUL characters";
        QTest::newRow("number for bandwidth")
            << "\"link_bandwidth\": \"10Gbps\"" << "\"link_bandwidth\": 10"
            << "q.json: platform.link_bandwidth: expected a bandwidth such as \"10Gbps\" (greater than zero), got 10";
        QTest::newRow("unknown key with suggestion")
            << "\"link_latency\"" << "\"link_latncy\""
            << "q.json: platform.link_latncy: unknown key; did you mean \"link_latency\"?";
        QTest::newRow("zero workers") << "\"workers\": 8" << "\"workers\": 0"
                                      << "q.json: platform.workers: expected an integer in [1, 100000], got 0";
        QTest::newRow("fractional batch") << "\"batch_size\": 32" << "\"batch_size\": 3.5"
                                          << "q.json: workload.batch_size: expected an integer in [1, 1048576], got 3.5";
        QTest::newRow("bad optimizer") << "\"adam\"" << "\"adamw\""
                                       << "q.json: workload.optimizer.type: expected one of \"sgd\", \"momentum\", "
                                          "\"adam\", got \"adamw\"; did you mean \"adam\"?";
        QTest::newRow("bad hidden width") << "[256]" << "[256, -1]"
                                          << "q.json: workload.model.hidden[1]: expected an integer width in "
                                             "[1, 65536], got -1";
        // Issue 17: several jobs on one platform (README "Several jobs on one platform").
        const QString seed = "\"seed\": 42,";
        auto jobs = [&](const QString& array) { return "\"seed\": 42, \"jobs\": " + array + ","; };
        QTest::newRow("jobs: not an array")
            << seed << jobs("{\"name\": \"a\"}")
            << "q.json: jobs: expected an array of 1 to 64 jobs such as [{\"name\": \"a\"}, {\"name\": \"b\", "
               "\"start\": \"10s\"}], got an object";
        QTest::newRow("jobs: empty") << seed << jobs("[]")
                                     << "q.json: jobs: expected an array of 1 to 64 jobs";
        QTest::newRow("jobs: entry not an object")
            << seed << jobs("[{\"name\": \"a\"}, 3]")
            << "q.json: jobs[1]: expected an object such as {\"name\": \"a\", \"start\": \"10s\"}, got 3";
        QTest::newRow("jobs: name missing") << seed << jobs("[{\"start\": \"1s\"}]")
                                            << "q.json: jobs[0].name: missing; expected a string";
        QTest::newRow("jobs: bad name") << seed << jobs("[{\"name\": \"a b\"}]")
                                        << "q.json: jobs[0].name: expected 1 to 40 letters, digits, '-', '_' or '.', "
                                           "got \"a b\"";
        QTest::newRow("jobs: duplicate name") << seed << jobs("[{\"name\": \"a\"}, {\"name\": \"a\"}]")
                                              << "q.json: jobs[1].name: duplicate job name \"a\"";
        QTest::newRow("jobs: negative start")
            << seed << jobs("[{\"name\": \"a\"}, {\"name\": \"b\", \"start\": \"-3s\"}]")
            << "q.json: jobs[1].start: expected a duration such as \"50us\", got \"-3s\"";
        QTest::newRow("jobs: start as a number")
            << seed << jobs("[{\"name\": \"a\", \"start\": 10}]")
            << "q.json: jobs[0].start: expected a duration such as \"50us\", got 10";
        QTest::newRow("jobs: start too late")
            << seed << jobs("[{\"name\": \"a\", \"start\": \"1e10s\"}]")
            << "q.json: jobs[0].start: expected a duration such as \"50us\" between 1e-12 and 1e+09";
        QTest::newRow("jobs: zero workers") << seed << jobs("[{\"name\": \"a\", \"workers\": 0}]")
                                            << "q.json: jobs[0].workers: expected an integer in [1, 1000000], got 0";
        QTest::newRow("jobs: unknown key")
            << seed << jobs("[{\"name\": \"a\", \"strat\": {}}]")
            << "q.json: jobs[0].strat: unknown key";
        QTest::newRow("jobs: section not an object")
            << seed << jobs("[{\"name\": \"a\", \"strategy\": \"ring-allreduce\"}]")
            << "q.json: jobs[0].strategy: expected an object, got \"ring-allreduce\"";
        QTest::newRow("jobs: bad strategy in a job")
            << seed << jobs("[{\"name\": \"a\"}, {\"name\": \"b\", \"strategy\": {\"type\": \"ring\"}}]")
            << "q.json: jobs[1].strategy.type: expected one of \"sync-ps\", \"async-ps\", \"ring-allreduce\", "
               "\"fedavg\", \"hierfavg\", \"fedbuff\", got \"ring\"";
        QTest::newRow("jobs: bad batch in a job")
            << seed << jobs("[{\"name\": \"a\", \"workload\": {\"batch_size\": 0}}]")
            << "q.json: jobs[0].workload.batch_size: expected an integer in [1, 1048576], got 0";
        QTest::newRow("jobs: bad run in a job")
            << seed << jobs("[{\"name\": \"a\", \"run\": {\"epochs\": -1}}]")
            << "q.json: jobs[0].run.epochs: expected an integer in [1, 1000000], got -1";
        QTest::newRow("jobs: a job's cross-field rule")
            << seed << jobs("[{\"name\": \"a\"}, {\"name\": \"b\", \"run\": {\"stop_at_target\": true, "
                            "\"target_accuracy\": 0}}]")
            << "q.json: jobs[1].run.stop_at_target: needs run.target_accuracy greater than 0";
        QTest::newRow("jobs: hosts on a star")
            << seed << jobs("[{\"name\": \"a\", \"hosts\": \"0-8\"}]")
            << "q.json: jobs[0].hosts: only on the fat-tree, torus and dragonfly platforms (on the star platform every "
               "rank has a host of its own)";
        QTest::newRow("jobs: hosts not a range")
            << seed << jobs("[{\"name\": \"a\", \"hosts\": \"8-0\"}]")
            << "q.json: jobs[0].hosts: expected a range of host indices \"first-last\" such as \"0-7\" (first <= last), "
               "got \"8-0\"";
        QTest::newRow("jobs: hosts as a list")
            << seed << jobs("[{\"name\": \"a\", \"hosts\": [0, 8]}]")
            << "q.json: jobs[0].hosts: expected a range of host indices \"first-last\" such as \"0-7\" (first <= last), "
               "got an array";
        QTest::newRow("jobs: checkpoint-restart")
            << seed << jobs("[{\"name\": \"a\", \"strategy\": {\"recovery\": \"checkpoint-restart\", "
                            "\"checkpoint\": {\"every_steps\": 10}}}]")
            << "q.json: jobs[0].strategy.recovery: \"checkpoint-restart\" is not available with jobs yet";
        QTest::newRow("jobs: with compare")
            << seed << "\"seed\": 42, \"compare\": [{\"label\": \"x\", \"patch\": {}}], \"jobs\": [{\"name\": \"a\"}],"
            << "q.json: compare: not with jobs";
        // Issue 17: the CNN's fields.
        QTest::newRow("cnn: input not three integers")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"input\": [1, 28]}"
            << "q.json: workload.model.input: expected [channels, height, width], three integers in [1, 65536] such "
               "as [1, 28, 28], got an array";
        QTest::newRow("cnn: layers neither preset nor array")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": \"lenet\"}"
            << "q.json: workload.model.layers: expected \"lenet5\" or an array of 1 to 1000 layers";
        QTest::newRow("cnn: unknown layer type")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"relu\"}, {\"type\": \"avgpool\"}]}"
            << "q.json: workload.model.layers[1].type: expected one of \"conv\", \"maxpool\", \"relu\", \"dense\", got "
               "\"avgpool\"";
        QTest::newRow("cnn: conv without filters")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"conv\", \"kernel\": 5}]}"
            << "q.json: workload.model.layers[0].filters: missing; expected the number of filters (output channels)";
        QTest::newRow("cnn: zero filters")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"conv\", \"filters\": 0, \"kernel\": 5}]}"
            << "q.json: workload.model.layers[0].filters: expected an integer in [1, 65536], got 0";
        QTest::newRow("cnn: key of another layer type")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"relu\", \"units\": 5}]}"
            << "q.json: workload.model.layers[0].units: unknown key";
        QTest::newRow("cnn: layer not an object")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"relu\"}, 3]}"
            << "q.json: workload.model.layers[1]: expected a layer object such as {\"type\": \"relu\"}, got 3";
        QTest::newRow("cnn: window larger than its input")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"maxpool\", \"kernel\": 4}, "
                      "{\"type\": \"conv\", \"filters\": 4, \"kernel\": 9}]}"
            << "q.json: workload.model.layers[1]: the 9 x 9 window does not fit its 7 x 7 input";
        QTest::newRow("cnn: padding as large as the kernel")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"conv\", \"filters\": 4, "
                      "\"kernel\": 3, \"padding\": 3}]}"
            << "q.json: workload.model.layers[0]: padding 3 must be less than the kernel 3";
        QTest::newRow("cnn: absurd size")
            << QString("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }") << "\"model\": {\"type\": \"cnn\", \"layers\": [{\"type\": \"conv\", \"filters\": 4096, "
                      "\"kernel\": 5, \"padding\": 2}]}"
            << "q.json: workload.model.layers: the model needs about 9.71 GiB of buffers per thread at batch size 32 "
               "(32219146 parameters); at most 2 GiB";
        QTest::newRow("unknown strategy") << "\"sync-ps\"" << "\"gossip\""
                                          << "q.json: strategy.type: expected one of";
        QTest::newRow("misspelt partitioning")
            << "{ \"type\": \"iid\" }" << "{ \"type\": \"dirichlet-per-clas\" }"
            << "q.json: workload.partitioning.type: expected one of \"iid\", \"dirichlet\", \"dirichlet-per-class\", "
               "\"shards\", got \"dirichlet-per-clas\"; did you mean \"dirichlet-per-class\"?";
        QTest::newRow("negative backup workers")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"backup_workers\": -1"
            << "q.json: strategy.backup_workers: expected an integer in [0, 1000000000], got -1";
        QTest::newRow("deadline without unit")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"round_deadline\": 30"
            << "q.json: strategy.round_deadline: expected";
        QTest::newRow("negative target clients")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"target_clients\": -2"
            << "q.json: strategy.target_clients: expected an integer in [0, 100000000], got -2";
        QTest::newRow("zero failure detection")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"failure_detection\": \"0s\""
            << "q.json: strategy.failure_detection: expected";
        QTest::newRow("fedbuff zero concurrency")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"concurrency\": 0"
            << "q.json: strategy.concurrency: expected an integer in [1, 100000000], got 0";
        QTest::newRow("fedbuff buffer size 0")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"buffer_size\": 0"
            << "q.json: strategy.buffer_size: expected an integer in [1, 100000000], got 0";
        QTest::newRow("fedbuff server learning rate 0")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"server_learning_rate\": 0"
            << "q.json: strategy.server_learning_rate: expected a number in [1e-12, 1000000], got 0";
        QTest::newRow("fedbuff refill")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"refill\": \"always\""
            << "q.json: strategy.refill: expected one of \"report\", \"aggregation\", got \"always\"";
        QTest::newRow("fedbuff with compression")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"compression\": {\"type\": \"fp16\"}"
            << "q.json: strategy.compression.type: fedbuff sends its clients' updates dense";
        QTest::newRow("fedbuff with dp-fedavg")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"privacy\": {\"type\": \"dp-fedavg\"}"
            << "q.json: strategy.privacy.type: differential privacy is not implemented for fedbuff";
        QTest::newRow("fedbuff with checkpoint-restart")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"recovery\": \"checkpoint-restart\", "
               "\"checkpoint\": {\"every_steps\": 5}"
            << "q.json: strategy.recovery: checkpoint-restart is not implemented for fedbuff";
        QTest::newRow("client fraction on fedbuff")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedbuff\", \"client_fraction\": 0.5"
            << "q.json: strategy.client_fraction: unknown key";
        QTest::newRow("compression ratio 0")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"compression\": {\"type\": \"topk\", \"ratio\": 0}"
            << "q.json: strategy.compression.ratio: expected a number in [1e-09, 1], got 0";
        QTest::newRow("unknown compressor")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"compression\": {\"type\": \"top-k\"}"
            << "q.json: strategy.compression.type: expected one of \"none\", \"topk\"";
        QTest::newRow("parameter of no compression")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"compression\": {\"type\": \"none\", \"ratio\": 0.1}"
            << "q.json: strategy.compression.ratio: unknown key";
        QTest::newRow("qsgd 1 bit")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"compression\": {\"type\": \"qsgd\", \"bits\": 1}"
            << "q.json: strategy.compression.bits: expected an integer in [2, 17], got 1";
        QTest::newRow("powersgd on async-ps")
            << "\"type\": \"sync-ps\"" << "\"type\": \"async-ps\", \"compression\": {\"type\": \"powersgd\"}"
            << "q.json: strategy.compression.type: powersgd averages its factors over all workers every step";
        QTest::newRow("DGC with Adam")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"compression\": {\"type\": \"topk\", \"momentum_correction\": true}"
            << "q.json: strategy.compression.momentum_correction: needs workload.optimizer.type \"momentum\"";
        QTest::newRow("local steps on fedavg")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"local_steps\": 4"
            << "q.json: strategy.local_steps: local SGD is for sync-ps and ring-allreduce";
        QTest::newRow("majority vote of fedavg updates")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"compression\": {\"type\": \"sign\"}"
            << "q.json: strategy.compression.error_feedback: sign without error feedback";
        QTest::newRow("elastic async-ps")
            << "\"type\": \"sync-ps\"" << "\"type\": \"async-ps\", \"recovery\": \"elastic\""
            << "q.json: strategy.recovery: elastic recovery is for sync-ps and ring-allreduce: async-ps goes on without "
               "the failed workers by itself";
        QTest::newRow("elastic ring with local SGD")
            << "\"type\": \"sync-ps\"" << "\"type\": \"ring-allreduce\", \"recovery\": \"elastic\", \"local_steps\": 4"
            << "q.json: strategy.recovery: elastic ring all-reduce with local_steps > 1";
        QTest::newRow("elastic ring with dp-sgd")
            << "\"type\": \"sync-ps\"" << "\"type\": \"ring-allreduce\", \"recovery\": \"elastic\", \"privacy\": "
               "{\"type\": \"dp-sgd\"}"
            << "q.json: strategy.recovery: elastic ring all-reduce with dp-sgd";
        QTest::newRow("elastic ring with powersgd")
            << "\"type\": \"sync-ps\"" << "\"type\": \"ring-allreduce\", \"recovery\": \"elastic\", \"compression\": "
               "{\"type\": \"powersgd\"}"
            << "q.json: strategy.recovery: elastic recovery with powersgd";
        QTest::newRow("elastic ring, zero failure detection")
            << "\"type\": \"sync-ps\"" << "\"type\": \"ring-allreduce\", \"recovery\": \"elastic\", "
               "\"failure_detection\": \"0s\""
            << "q.json: strategy.failure_detection: expected";
        QTest::newRow("elastic ring, failure detection without unit")
            << "\"type\": \"sync-ps\"" << "\"type\": \"ring-allreduce\", \"recovery\": \"elastic\", "
               "\"failure_detection\": 2"
            << "q.json: strategy.failure_detection: expected";
        QTest::newRow("failure detection of a plain ring")
            << "\"type\": \"sync-ps\"" << "\"type\": \"ring-allreduce\", \"failure_detection\": \"1s\""
            << "q.json: strategy.failure_detection: unknown key";
        QTest::newRow("unknown recovery")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"recovery\": \"checkpoint\""
            << "q.json: strategy.recovery: expected one of \"none\", \"elastic\"";
        QTest::newRow("checkpoint without interval")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"recovery\": \"checkpoint-restart\""
            << "q.json: strategy.checkpoint.every_steps: expected a checkpoint interval";
        QTest::newRow("checkpoint-restart on fedavg")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"recovery\": \"checkpoint-restart\", "
               "\"checkpoint\": {\"every_steps\": 10}"
            << "q.json: strategy.recovery: checkpoint-restart is implemented for sync-ps, async-ps and ring-allreduce, not fedavg yet";
        QTest::newRow("checkpoint bandwidth")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"recovery\": \"checkpoint-restart\", "
               "\"checkpoint\": {\"every\": \"10min\", \"write_bandwidth\": \"fast\"}"
            << "q.json: strategy.checkpoint.write_bandwidth: expected a bandwidth such as \"10Gbps\"";
        QTest::newRow("fault type")
            << "\"seed\": 42," << "\"seed\": 42, \"faults\": {\"events\": [{\"time\": \"1s\", \"type\": \"melt\", "
               "\"host\": \"worker-1\"}]},"
            << "q.json: faults.events[0].type: expected one of \"crash\", \"recover\", \"link-down\", \"link-up\"";
        QTest::newRow("fault time")
            << "\"seed\": 42," << "\"seed\": 42, \"faults\": {\"events\": [{\"type\": \"crash\", \"host\": \"w\"}]},"
            << "q.json: faults.events[0].time: missing; expected a duration";
        QTest::newRow("fault link without link")
            << "\"seed\": 42," << "\"seed\": 42, \"faults\": {\"events\": [{\"time\": \"2s\", \"type\": \"link-down\", "
               "\"host\": \"w\"}]},"
            << "q.json: faults.events[0].link: missing; expected a string";
        QTest::newRow("infinite mtbf")
            << "\"seed\": 42," << "\"seed\": 42, \"faults\": {\"random\": {\"mtbf\": \"1e308h\"}},"
            << "q.json: faults.random.mtbf: expected a duration such as \"50us\" (greater than zero), got \"1e308h\"";
        QTest::newRow("dp-fedavg on sync-ps")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"privacy\": {\"type\": \"dp-fedavg\"}"
            << "q.json: strategy.privacy.type: dp-fedavg is user-level privacy for fedavg; for sync-ps use dp-sgd";
        QTest::newRow("dp-sgd on fedavg")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"privacy\": {\"type\": \"dp-sgd\"}"
            << "q.json: strategy.privacy.type: dp-sgd is for sync-ps and ring-allreduce, not fedavg (use dp-fedavg)";
        QTest::newRow("zero clip")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"privacy\": {\"type\": \"dp-fedavg\", \"clip\": 0}"
            << "q.json: strategy.privacy.clip: expected a number in [1e-12, 1e+12], got 0";
        QTest::newRow("budget without noise")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"privacy\": {\"type\": \"dp-fedavg\", "
               "\"noise_multiplier\": 0, \"target_epsilon\": 8}"
            << "q.json: strategy.privacy.target_epsilon: needs noise_multiplier > 0";
        QTest::newRow("secure aggregation on sync-ps")
            << "\"type\": \"sync-ps\"" << "\"type\": \"sync-ps\", \"secure_aggregation\": {\"enabled\": true}"
            << "q.json: strategy.secure_aggregation.enabled: secure aggregation sums federated clients' updates: "
               "fedavg only, not sync-ps";
        QTest::newRow("secure aggregation bits")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"secure_aggregation\": {\"enabled\": true, \"bits\": 8}"
            << "q.json: strategy.secure_aggregation.bits: expected an integer in [16, 32], got 8";
        QTest::newRow("secure aggregation with compression")
            << "\"type\": \"sync-ps\"" << "\"type\": \"fedavg\", \"compression\": {\"type\": \"fp16\"}, "
               "\"secure_aggregation\": {\"enabled\": true}"
            << "q.json: strategy.secure_aggregation.enabled: not with compression";
        QTest::newRow("presentation pace") // issue 14: a lesson's hints for the workbench
            << "\"seed\": 42," << "\"seed\": 42, \"presentation\": {\"pace\": 3},"
            << "q.json: presentation.pace: expected one of the workbench's paces";
        QTest::newRow("presentation highlight")
            << "\"seed\": 42," << "\"seed\": 42, \"presentation\": {\"highlight\": \"server\"},"
            << "q.json: presentation.highlight: expected a list of at most 64 host or link names, such as [\"server\"], got \"server\"";
        QTest::newRow("presentation highlight name")
            << "\"seed\": 42," << "\"seed\": 42, \"presentation\": {\"highlight\": [\"server\", 3]},"
            << "q.json: presentation.highlight: expected host or link names (non-empty strings), got 3";
        QTest::newRow("presentation series")
            << "\"seed\": 42," << "\"seed\": 42, \"presentation\": {\"series\": 1},"
            << "q.json: presentation.series: expected a string, got 1";
        QTest::newRow("presentation panel")
            << "\"seed\": 42," << "\"seed\": 42, \"presentation\": {\"panels\": [\"topology\", \"charts\"]},"
            << "q.json: presentation.panels: expected a list of \"topology\", \"lesson\", \"timeline\" and \"history\", got \"charts\"";
        QTest::newRow("presentation tab")
            << "\"seed\": 42," << "\"seed\": 42, \"presentation\": {\"tab\": \"Loss\"},"
            << "q.json: presentation.tab: expected one of";
        const char* ws = "\"worker_speed\": \"10Gf\"";
        QTest::newRow("node without gpus")
            << ws << "\"worker_speed\": \"10Gf\", \"node\": {\"interconnect\": \"nvlink4\"}"
            << "q.json: platform.node.gpus: missing; expected the accelerators per node (an integer from 1 to 1024)";
        QTest::newRow("node gpus out of range")
            << ws << "\"worker_speed\": \"10Gf\", \"node\": {\"gpus\": 2000}"
            << "q.json: platform.node.gpus: expected an integer";
        QTest::newRow("node interconnect")
            << ws << "\"worker_speed\": \"10Gf\", \"node\": {\"gpus\": 8, \"interconnect\": \"nvlink5\"}"
            << "q.json: platform.node.interconnect: expected one of";
        QTest::newRow("node bandwidth")
            << ws << "\"worker_speed\": \"10Gf\", \"node\": {\"gpus\": 8, \"bandwidth\": \"fast\"}"
            << "q.json: platform.node.bandwidth: expected a bandwidth such as \"10Gbps\"";
        QTest::newRow("node with device bandwidth")
            << ws << "\"worker_speed\": \"10Gf\", \"node\": {\"gpus\": 2}, \"device_bandwidth\": \"1Gbps\""
            << "q.json: platform.device_bandwidth: not with \"node\"";
        QTest::newRow("node on an edge platform")
            << ws << "\"worker_speed\": \"10Gf\", \"topology\": \"edge\", \"node\": {\"gpus\": 2}"
            << "q.json: platform.node: only for the star, fat-tree, torus and dragonfly topologies";
        QTest::newRow("unknown accelerator")
            << ws << "\"worker_speed\": \"a10\""
            << "q.json: platform.worker_speed: expected a speed such as \"100Gf\" or an accelerator such as \"a100\"";
        const char* ps = "\"strategy\": { \"type\": \"sync-ps\" }";
        QTest::newRow("auto_among without auto")
            << ps << "\"strategy\": { \"type\": \"ring-allreduce\", \"auto_among\": [\"ring\"] }"
            << "q.json: strategy.auto_among: is the choice of collective \"auto\"; not used with \"ring\"";
        QTest::newRow("auto_among auto")
            << ps << "\"strategy\": { \"type\": \"ring-allreduce\", \"collective\": \"auto\", \"auto_among\": [\"auto\"] }"
            << "q.json: strategy.auto_among: expected algorithms for \"auto\" to choose among, not \"auto\"";
        QTest::newRow("auto_among not a list")
            << ps << "\"strategy\": { \"type\": \"ring-allreduce\", \"collective\": \"auto\", \"auto_among\": \"ring\" }"
            << "q.json: strategy.auto_among: expected a list of 1 to 16 algorithm names";
        QTest::newRow("auto_among unknown")
            << ps << "\"strategy\": { \"type\": \"ring-allreduce\", \"collective\": \"auto\", \"auto_among\": [\"ring\", \"tree\"] }"
            << "q.json: strategy.auto_among[1]: unknown collective \"tree\"";
        QTest::newRow("overlap on fedavg")
            << ps << "\"strategy\": { \"type\": \"fedavg\", \"overlap\": true }"
            << "q.json: strategy.overlap: overlaps the backward pass with the gradients' transfer in ring-allreduce "
               "and sync-ps; not with fedavg";
        QTest::newRow("overlap not a boolean")
            << ps << "\"strategy\": { \"type\": \"sync-ps\", \"overlap\": 1 }"
            << "q.json: strategy.overlap: expected true or false, got 1";
        QTest::newRow("bucket cap without overlap")
            << ps << "\"strategy\": { \"type\": \"sync-ps\", \"bucket_cap_mb\": 25 }"
            << "q.json: strategy.bucket_cap_mb: is the bucket size of \"overlap\": true (MiB, as DDP's bucket_cap_mb)";
        QTest::newRow("bucket cap zero")
            << ps << "\"strategy\": { \"type\": \"sync-ps\", \"overlap\": true, \"bucket_cap_mb\": 0 }"
            << "q.json: strategy.bucket_cap_mb: expected a number in [1e-06, 1048576], got 0";
        QTest::newRow("overlap with compression")
            << ps << "\"strategy\": { \"type\": \"ring-allreduce\", \"overlap\": true, \"compression\": "
                     "{\"type\": \"fp16\"} }"
            << "q.json: strategy.overlap: not with compression";
        QTest::newRow("overlap with backup workers")
            << ps << "\"strategy\": { \"type\": \"sync-ps\", \"overlap\": true, \"backup_workers\": 1 }"
            << "q.json: strategy.overlap: not with backup workers";
        QTest::newRow("unknown proxy preset")
            << "\"type\": \"mlp\", \"hidden\": [256]" << "\"type\": \"proxy\", \"preset\": \"resnet-50\""
            << "q.json: workload.model.preset: expected one of \"resnet50\", \"bert-base\", \"bert-large\", got "
               "\"resnet-50\"; did you mean \"resnet50\"?";
        QTest::newRow("preset with parameters")
            << "\"type\": \"mlp\", \"hidden\": [256]" << "\"type\": \"proxy\", \"preset\": \"resnet50\", \"parameters\": 5"
            << "q.json: workload.model.parameters: is given by the preset; leave it out";
        QTest::newRow("proxy layers without flops")
            << "\"type\": \"mlp\", \"hidden\": [256]" << "\"type\": \"proxy\", \"layers\": [{\"parameters\": 10}]"
            << "q.json: workload.model.layers[0].forward_flops: missing; expected the flops of one sample's forward";
        QTest::newRow("proxy layers without parameters")
            << "\"type\": \"mlp\", \"hidden\": [256]" << "\"type\": \"proxy\", \"layers\": [{\"forward_flops\": \"1Mf\"}]"
            << "q.json: workload.model.layers: the layers hold no parameters";
        QTest::newRow("proxy layers disagree")
            << "\"type\": \"mlp\", \"hidden\": [256]" << "\"type\": \"proxy\", \"parameters\": 11, \"layers\": [{\"parameters\": 10, "
               "\"forward_flops\": \"1Mf\"}]"
            << "q.json: workload.model.parameters: the layers' parameters add up to 10, not 11";
        QTest::newRow("proxy layers not a list")
            << "\"type\": \"mlp\", \"hidden\": [256]" << "\"type\": \"proxy\", \"layers\": 3"
            << "q.json: workload.model.layers: expected an array of 1 to 100000 layers";
        QTest::newRow("invalid JSON") << "\"seed\": 42," << "\"seed\": 42,,"
                                      << "q.json: invalid JSON at line 4";
    }
    void everyShippedScenarioAndComparisonParses()
    {
        int scenarios = 0, entries = 0;
        for (const QString& dir : {QString(DMLSIM_SOURCE_DIR "/scenarios"), QString(DMLSIM_SOURCE_DIR "/scenarios/lessons")})
            for (const QString& f : QDir(dir).entryList({"*.json"}, QDir::Files)) {
                const std::string file = (dir + "/" + f).toStdString();
                try {
                    const Scenario sc = loadScenario(file);
                    ++scenarios;
                    for (const CompareEntry& e : sc.compare) {
                        parseScenario(mergePatch(sc.text, e.patch), file + " [" + e.label + "]");
                        ++entries;
                    }
                } catch (const ScenarioError& e) {
                    QFAIL(e.what());
                }
            }
        QVERIFY(scenarios >= 20);
        QVERIFY(entries >= 50);
    }
    void errorsNameThePath()
    {
        QFETCH(QString, from);
        QFETCH(QString, to);
        QFETCH(QString, message);
        try {
            parseScenario(edited(from.toStdString(), to.toStdString()), "q.json");
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QVERIFY2(QString(e.what()).startsWith(message), e.what());
        }
    }

    /// Issue 17: a scenario with two jobs: each is the top level with its own sections merged in.
    void jobsParse()
    {
        const Scenario s = parseScenario(
            edited("\"seed\": 42,", "\"seed\": 42, \"jobs\": [{\"name\": \"a\"}, {\"name\": \"b.2\", \"start\": "
                                    "\"90s\", \"workers\": 4, \"strategy\": {\"type\": \"ring-allreduce\"}, \"run\": "
                                    "{\"epochs\": 2}, \"workload\": {\"batch_size\": 64}}],"),
            "q.json");
        QCOMPARE(int(s.jobs.size()), 2);
        const ScenarioJob& a = s.jobs[0];
        const ScenarioJob& b = s.jobs[1];
        QCOMPARE(QString::fromStdString(a.name), QString("a"));
        QCOMPARE(a.start, 0.0);
        QCOMPARE(a.scenario.sim.strategy.workers, 8);
        QVERIFY(a.scenario.sim.strategy.kind == StrategyKind::SyncPs);
        QCOMPARE(a.scenario.sim.training.epochs, 4);
        QCOMPARE(QString::fromStdString(b.name), QString("b.2"));
        QCOMPARE(b.start, 90.0);
        QCOMPARE(b.scenario.sim.strategy.workers, 4);
        QCOMPARE(b.scenario.sim.platform.workers, 4);
        QVERIFY(b.scenario.sim.strategy.kind == StrategyKind::RingAllReduce);
        QCOMPARE(b.scenario.sim.training.epochs, 2);
        QCOMPARE(b.scenario.sim.training.batchSize, 64);
        QCOMPARE(b.scenario.sim.training.optimizer.learningRate, 0.001f); // the top level's, not patched
        QCOMPARE(QString::fromStdString(b.scenario.name),
                 QString("Quickstart: synchronous parameter server, 8 workers, Fashion-MNIST / b.2"));
        QVERIFY(b.scenario.jobs.empty());
        // A job's text runs on its own: it has no "jobs" and parses to the same settings.
        const Scenario alone = parseScenario(b.scenario.text, "b.json");
        QVERIFY(alone.jobs.empty());
        QCOMPARE(alone.sim.strategy.workers, 4);
        QCOMPARE(alone.sim.training.batchSize, 64);
    }

    void jobsRefusedWhereNotSupported()
    {
        std::string s = edited("\"topology\": \"star\"",
                               "\"topology\": \"edge\", \"edge\": {\"sites\": 2, \"devices_per_site\": 4}");
        s.replace(s.find("\"seed\": 42,"), 11, "\"seed\": 42, \"jobs\": [{\"name\": \"a\"}],");
        try {
            parseScenario(s, "q.json");
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QVERIFY2(QString(e.what()).startsWith("q.json: platform.topology: jobs run on the star, fat-tree, torus "
                                                  "and dragonfly platforms, not yet on the edge platform"),
                     e.what());
        }
    }

    void everyIssueIsReported()
    {
        std::string s = edited("\"workers\": 8", "\"workers\": -1");
        s.replace(s.find("\"50us\""), 6, "\"fast\"");
        try {
            parseScenario(s, "q.json");
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QCOMPARE(int(e.issues().size()), 2);
            QCOMPARE(QString::fromStdString(e.issues()[0].path), QString("platform.workers"));
            QCOMPARE(QString::fromStdString(e.issues()[1].path), QString("platform.link_latency"));
        }
    }

    void missingFile()
    {
        try {
            loadScenario("/nonexistent/s.json");
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QCOMPARE(QString(e.what()), QString("/nonexistent/s.json: file not found"));
        }
    }

    void batchLargerThanShard()
    {
        Scenario s = parseScenario(edited("\"batch_size\": 32", "\"batch_size\": 20000"), "q.json");
        SyntheticSpec spec;
        spec.trainSamples = 1000;
        const TrainTest data = makeSyntheticBlobs(spec, 1);
        try {
            checkAgainstData(s, data);
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QCOMPARE(QString::fromStdString(e.issues()[0].path), QString("workload.batch_size"));
            QVERIFY2(QString(e.what()).contains("expected between 1 and 125"), e.what());
        }
    }

    void cnnFields()
    {
        // Issue 17: the preset, explicit layers with their defaults, and the input checked against the data.
        const Scenario lenet = parseScenario(
            edited("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }", "\"model\": {\"type\": \"cnn\"}"), "q.json");
        QCOMPARE(int(lenet.sim.training.cnn.layers.size()), int(CnnSpec::lenet5().layers.size()));
        QVERIFY(lenet.sim.training.hidden.empty());
        const Scenario s = parseScenario(
            edited("\"model\": { \"type\": \"mlp\", \"hidden\": [256] }",
                   "\"model\": {\"type\": \"cnn\", \"input\": [4, 14, 14], \"layers\": [{\"type\": \"conv\", "
                   "\"filters\": 8, \"kernel\": 3, \"stride\": 2, \"padding\": 1}, {\"type\": \"maxpool\"}, "
                   "{\"type\": \"relu\"}, {\"type\": \"dense\", \"units\": 12}]}"),
            "q.json");
        const CnnSpec& c = s.sim.training.cnn;
        QCOMPARE(c.channels, 4);
        QCOMPARE(c.height, 14);
        QCOMPARE(c.width, 14);
        QCOMPARE(int(c.layers.size()), 4);
        QVERIFY(c.layers[0].kind == CnnLayerSpec::Kind::Conv);
        QCOMPARE(c.layers[0].units, 8);
        QCOMPARE(c.layers[0].kernel, 3);
        QCOMPARE(c.layers[0].stride, 2);
        QCOMPARE(c.layers[0].padding, 1);
        QVERIFY(c.layers[1].kind == CnnLayerSpec::Kind::MaxPool);
        QCOMPARE(c.layers[1].kernel, 2); // the default window; stride 0 = the window
        QCOMPARE(c.layers[1].stride, 0);
        QCOMPARE(c.layers[3].units, 12);
        // 4 x 14 x 14 = 784 features, as the synthetic data below; 3 x 28 x 28 is not.
        SyntheticSpec spec;
        spec.trainSamples = 1000;
        spec.features = 784;
        const TrainTest data = makeSyntheticBlobs(spec, 1);
        QVERIFY(!checkAgainstData(s, data).empty());
        Scenario wrong = s;
        wrong.sim.training.cnn.channels = 3;
        wrong.sim.training.cnn.height = wrong.sim.training.cnn.width = 28;
        try {
            checkAgainstData(wrong, data);
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QCOMPARE(QString::fromStdString(e.issues()[0].path), QString("workload.model.input"));
            QVERIFY2(QString(e.what()).contains("the input image 3 x 28 x 28 (channels x height x width) must have the "
                                                "784 features of a sample"), e.what());
        }
    }

    void fedbuffFields()
    {
        const Scenario s = parseScenario(
            edited("\"strategy\": { \"type\": \"sync-ps\" }",
                   "\"strategy\": { \"type\": \"fedbuff\", \"concurrency\": 6, \"buffer_size\": 3, "
                   "\"server_learning_rate\": 0.5, \"refill\": \"aggregation\", \"local_epochs\": 2, \"rounds\": 9, "
                   "\"failure_detection\": \"250ms\" }"),
            "q.json");
        QVERIFY(s.sim.strategy.kind == StrategyKind::FedBuff);
        QCOMPARE(s.sim.strategy.concurrency, 6);
        QCOMPARE(s.sim.strategy.bufferSize, 3);
        QCOMPARE(s.sim.strategy.serverLearningRate, 0.5);
        QVERIFY(s.sim.strategy.refillOnAggregation);
        QCOMPARE(s.sim.strategy.localEpochs, 2);
        QCOMPARE(s.sim.strategy.rounds, 9);
        QCOMPARE(s.sim.strategy.failureDetection, 0.25);
        QCOMPARE(std::string(toString(s.sim.strategy.kind)), std::string("fedbuff"));
        const Scenario d = parseScenario(edited("\"type\": \"sync-ps\"", "\"type\": \"fedbuff\""), "q.json");
        QCOMPARE(d.sim.strategy.concurrency, 10);
        QCOMPARE(d.sim.strategy.bufferSize, 10);
        QCOMPARE(d.sim.strategy.serverLearningRate, 1.0);
        QVERIFY(!d.sim.strategy.refillOnAggregation);
        QVERIFY(failureTolerantRoles(d.sim.strategy) == std::vector<std::string>{"client"});
        // Against the platform's 8 clients (FedBuff's constructor, through checkAgainstData): errors name the field.
        SyntheticSpec spec;
        spec.trainSamples = 1000;
        const TrainTest data = makeSyntheticBlobs(spec, 1);
        auto refused = [&](const std::string& strategy, const QString& path, const QString& text) {
            const Scenario bad = parseScenario(edited("\"type\": \"sync-ps\"", strategy), "q.json");
            try {
                checkAgainstData(bad, data);
                QFAIL("no error");
            } catch (const ScenarioError& e) {
                QCOMPARE(QString::fromStdString(e.issues()[0].path), path);
                QVERIFY2(QString(e.what()).contains(text), e.what());
            }
        };
        refused("\"type\": \"fedbuff\", \"concurrency\": 9", "strategy.concurrency", "expected 1 to 8");
        refused("\"type\": \"fedbuff\", \"concurrency\": 4, \"buffer_size\": 5, \"refill\": \"aggregation\"",
                "strategy.buffer_size", "the buffer would never fill");
        // The defaults need 10 clients: refused on 8, with the field named.
        refused("\"type\": \"fedbuff\"", "strategy.concurrency", "got 10");
        const Scenario ok = parseScenario(
            edited("\"type\": \"sync-ps\"", "\"type\": \"fedbuff\", \"concurrency\": 8, \"buffer_size\": 20"), "q.json");
        const std::vector<std::string> roles = checkAgainstData(ok, data);
        QCOMPARE(int(roles.size()), 9);
        QCOMPARE(roles.front(), std::string("client"));
        QCOMPARE(roles.back(), std::string("server"));
    }

    void strategyAndWorkloadFields()
    {
        const Scenario s = parseScenario(
            edited("\"strategy\": { \"type\": \"sync-ps\" }",
                   "\"strategy\": { \"type\": \"fedavg\", \"client_fraction\": 0.25, \"local_epochs\": 3, "
                   "\"prox_mu\": 0.01, \"rounds\": 7 }"),
            "q.json");
        QVERIFY(s.sim.strategy.kind == StrategyKind::FedAvg);
        QCOMPARE(s.sim.strategy.clientFraction, 0.25);
        QCOMPARE(s.sim.strategy.localEpochs, 3);
        QCOMPARE(s.sim.strategy.rounds, 7);
        const Scenario a = parseScenario(
            edited("\"strategy\": { \"type\": \"sync-ps\" }",
                   "\"strategy\": { \"type\": \"async-ps\", \"staleness_bound\": 3 }"), "q.json");
        QCOMPARE(a.sim.strategy.stalenessBound, 3);
        const Scenario b = parseScenario(
            edited("\"type\": \"sync-ps\"", "\"type\": \"sync-ps\", \"backup_workers\": 2"), "q.json");
        QCOMPARE(b.sim.strategy.backupWorkers, 2);
        const Scenario f = parseScenario(
            edited("\"type\": \"sync-ps\"", "\"type\": \"fedavg\", \"round_deadline\": \"30s\", "
                                           "\"target_clients\": 6, \"failure_detection\": \"250ms\""),
            "q.json");
        const Scenario c = parseScenario(
            edited("\"type\": \"sync-ps\"", "\"type\": \"sync-ps\", \"local_steps\": 8, \"compression\": "
                                           "{\"type\": \"topk\", \"ratio\": 0.01, \"error_feedback\": true}"),
            "q.json");
        QCOMPARE(c.sim.strategy.localSteps, 8);
        QVERIFY(c.sim.strategy.compression.kind == compression::CompressionSpec::Kind::TopK);
        QCOMPARE(c.sim.strategy.compression.ratio, 0.01);
        QVERIFY(c.sim.strategy.compression.errorFeedback);
        const Scenario pw = parseScenario(
            edited("\"type\": \"sync-ps\"", "\"type\": \"ring-allreduce\", \"compression\": {\"type\": \"powersgd\"}"),
            "q.json");
        QCOMPARE(pw.sim.strategy.compression.rank, 2);
        QVERIFY(pw.sim.strategy.compression.errorFeedback); // PowerSGD's default, as in the paper
        QCOMPARE(f.sim.strategy.roundDeadline, 30.0);
        QCOMPARE(f.sim.strategy.targetClients, 6);
        QCOMPARE(f.sim.strategy.failureDetection, 0.25);
        QCOMPARE(parseScenario(edited("\"type\": \"sync-ps\"", "\"type\": \"fedavg\""), "q.json")
                     .sim.strategy.failureDetection, 1.0);
        // Elastic ring all-reduce (issue 11): recovery and its failure detection parse; the workers may go off.
        const Scenario er = parseScenario(
            edited("\"type\": \"sync-ps\"", "\"type\": \"ring-allreduce\", \"recovery\": \"elastic\", "
                                           "\"failure_detection\": \"250ms\", \"compression\": {\"type\": \"fp16\"}"),
            "q.json");
        QVERIFY(er.sim.strategy.kind == StrategyKind::RingAllReduce);
        QVERIFY(er.sim.strategy.recovery == StrategySpec::Recovery::Elastic);
        QCOMPARE(er.sim.strategy.failureDetection, 0.25);
        QCOMPARE(failureTolerantRoles(er.sim.strategy), std::vector<std::string>{"worker"});
        QCOMPARE(parseScenario(edited("\"type\": \"sync-ps\"", "\"type\": \"ring-allreduce\", \"recovery\": \"elastic\""),
                               "q.json")
                     .sim.strategy.failureDetection, 1.0);
        QVERIFY(failureTolerantRoles(parseScenario(edited("\"type\": \"sync-ps\"", "\"type\": \"ring-allreduce\""),
                                                   "q.json").sim.strategy).empty());
        // backup_workers must be fewer than the workers: checked against the data with the strategy.
        try {
            const Scenario bad = parseScenario(
                edited("\"type\": \"sync-ps\"", "\"type\": \"sync-ps\", \"backup_workers\": 8"), "q.json");
            SyntheticSpec blobs;
            blobs.trainSamples = 1000;
            checkAgainstData(bad, makeSyntheticBlobs(blobs, 1));
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QCOMPARE(QString::fromStdString(e.issues()[0].path), QString("strategy.backup_workers"));
        }
        // A field of another strategy is an unknown key.
        QVERIFY_THROWS_EXCEPTION(ScenarioError, parseScenario(edited("\"type\": \"sync-ps\"",
                                                                     "\"type\": \"sync-ps\", \"local_epochs\": 2"),
                                                              "q.json"));
        const Scenario d = parseScenario(edited("{ \"type\": \"iid\" }", "{ \"type\": \"dirichlet\", \"alpha\": 0.1 }"),
                                         "q.json");
        QVERIFY(d.sim.training.partition.kind == PartitionSpec::Kind::Dirichlet);
        QCOMPARE(d.sim.training.partition.alpha, 0.1);
        const Scenario pc = parseScenario(
            edited("{ \"type\": \"iid\" }", "{ \"type\": \"dirichlet-per-class\", \"alpha\": 2.5 }"), "q.json");
        QVERIFY(pc.sim.training.partition.kind == PartitionSpec::Kind::DirichletPerClass);
        QCOMPARE(pc.sim.training.partition.alpha, 2.5);
        const Scenario p = parseScenario(
            edited("{ \"type\": \"mlp\", \"hidden\": [256] }",
                   "{ \"type\": \"proxy\", \"parameters\": 25600000, \"forward_flops\": \"4.1Gf\" }"),
            "q.json");
        QCOMPARE(p.sim.training.proxy.parameters, 25600000LL);
        QCOMPARE(p.sim.training.proxy.trainFlopsPerSample, 3 * 4.1e9);
    }

    void compareListAndMergePatch()
    {
        std::string s = baseScenario();
        s.insert(s.rfind('}'), ", \"compare\": [{\"label\": \"a\", \"patch\": {\"strategy\": {\"type\": \"ring-allreduce\"}}},"
                               " {\"label\": \"a\", \"patch\": 3}]");
        try {
            parseScenario(s, "q.json");
            QFAIL("no error");
        } catch (const ScenarioError& e) {
            QCOMPARE(int(e.issues().size()), 2);
            QCOMPARE(QString::fromStdString(e.issues()[0].path), QString("compare[1].label")); // duplicate
            QCOMPARE(QString::fromStdString(e.issues()[1].path), QString("compare[1].patch"));
        }
        // RFC 7396: objects merge recursively, null deletes, anything else replaces.
        const std::string merged = mergePatch(R"({"a": {"b": 1, "c": 2}, "d": [1], "e": 5})",
                                              R"({"a": {"b": null, "x": 3}, "d": [2], "e": {"f": 1}})");
        QCOMPARE(QJsonDocument::fromJson(QByteArray::fromStdString(merged)).object(),
                 QJsonDocument::fromJson(R"({"a": {"c": 2, "x": 3}, "d": [2], "e": {"f": 1}})").object());
    }

    void hashIsStable()
    {
        QCOMPARE(QString::fromStdString(scenarioHash("abc")),
                 QString("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }
};

QTEST_GUILESS_MAIN(TestScenario)
#include "tst_scenario.moc"
