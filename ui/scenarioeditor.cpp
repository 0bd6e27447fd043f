// SPDX-License-Identifier: GPL-3.0-or-later
#include "scenarioeditor.h"

#include "scenario.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <functional>

namespace dml::ui {
namespace {
/// The tooltip of a form field: its JSON path, and for fields whose unit is easy to misread, what it means.
QString fieldTip(const QString& path)
{
    if (path == "strategy.compression.error_feedback")
        return path + "\nKeep what compression dropped and add it to the next gradient (Stich et al. 2018; Karimireddy et "
                      "al. 2019). For sign: on = EF-signSGD (scaled sign, averaged), off = signSGD by majority vote. "
                      "Half-checked: the default (on for powersgd, off otherwise).";
    if (path == "strategy.compression.momentum_correction")
        return path + "\nDGC (Lin et al. 2018): the workers accumulate the momentum before sparsifying; the server "
                      "applies the sparse sum with plain SGD. Needs the momentum optimizer.";
    if (path == "strategy.privacy.type")
        return path + "\ndp-fedavg (fedavg): each client's update clipped and the sum noised (McMahan et al. 2018). "
                      "dp-sgd (sync-ps, ring-allreduce): each example's gradient clipped, the step's sum noised "
                      "(Abadi et al. 2016). Epsilon is charted in the Series tab.";
    if (path == "strategy.local_steps")
        return path + "\nLocal SGD (Stich 2019; Lin et al. 2020): each worker takes this many optimizer steps on its own "
                      "copy, then the copies are averaged. 1 = average every step.";
    if (path == "workload.model.type")
        return path + "\ncnn: a LeNet-5-style convolutional network (README \"Convolutional model\"); its layers are "
                      "edited in the JSON tab (\"layers\": \"lenet5\" by default).";
    if (path == "platform.worker_speed" || path == "platform.server_speed")
        return path + "\nA speed such as \"100Gf\", or an accelerator preset: v100, a100, a100-bf16, h100, "
                      "h100-bf16, ... (README \"Multi-GPU nodes\"; nodes themselves are edited in the JSON tab).";
    if (path == "strategy.overlap")
        return path + "\nOverlap the backward pass with the gradients' all-reduce (or push), bucket by bucket, as "
                      "PyTorch DDP does (README \"Overlap of the backward pass\"). Proxies overlap as their layers "
                      "say: \"preset\": \"resnet50\", \"bert-base\" or \"bert-large\", or \"layers\" (JSON tab).";
    if (path == "strategy.collective")
        return path + "\nHow the workers all-reduce (README \"Collective algorithms\"); auto chooses by the cost "
                      "formulas for the model's size and the workers.";
    if (path == "strategy.staleness_bound")
        return path + "\nStale-synchronous bound s, in clocks (updates per worker, Ho et al. 2013): a worker may be at "
                      "most s updates ahead of the slowest worker. Empty: unbounded.";
    return path;
}
} // namespace

namespace {

enum class Kind { Text, Number, Int, Choice, Bool, OptionalBool, IntList };
// OptionalBool: a tri-state box whose middle state leaves the key out (its default differs by type).

/// One form field bound to a JSON path ("platform.workers").
struct Field {
    QString path;
    Kind kind;
    QWidget* widget = nullptr;
    std::function<bool(const QJsonObject&)> applies; ///< null = always
};

QJsonValue valueAt(const QJsonObject& root, const QString& path)
{
    const QStringList parts = path.split('.');
    QJsonValue v = root;
    for (const QString& p : parts) {
        if (!v.isObject())
            return QJsonValue::Undefined;
        v = v.toObject().value(p);
    }
    return v;
}

QJsonObject withValue(QJsonObject root, QStringList parts, const QJsonValue& v)
{
    const QString key = parts.takeFirst();
    if (parts.isEmpty()) {
        if (v.isUndefined())
            root.remove(key);
        else
            root.insert(key, v);
        return root;
    }
    QJsonObject child = root.value(key).toObject();
    child = withValue(child, parts, v);
    if (child.isEmpty() && v.isUndefined() && !root.contains(key))
        return root;
    root.insert(key, child);
    return root;
}

QString str(const QJsonObject& root, const QString& path, const QString& def = {})
{
    const QJsonValue v = valueAt(root, path);
    return v.isString() ? v.toString() : def;
}

/// Key order of written JSON: the order of a scenario's documentation; unknown keys after, alphabetically.
const QStringList& keyOrder()
{
    static const QStringList order = {
        "name", "description", "seed", "platform", "workload", "strategy", "run", "compare", "label", "patch",
        "topology", "workers", "worker_speed", "server_speed", "link_bandwidth", "link_latency", "backbone_bandwidth",
        "backbone_latency", "network_model", "dataset", "path", "classes", "features", "train_samples",
        "test_samples", "separation", "model", "type", "hidden", "preset", "parameters", "forward_flops", "train_flops",
        "backward_flops", "layers",
        "batch_size", "optimizer", "learning_rate", "momentum", "beta1", "beta2", "epsilon", "partitioning", "alpha",
        "shards_per_client", "staleness_bound", "backup_workers", "client_fraction", "local_epochs", "prox_mu", "rounds",
        "round_deadline", "target_clients", "recovery", "failure_detection", "checkpoint", "every_steps", "every",
        "write_bandwidth", "read_bandwidth", "restart_delay", "max_restarts", "local_steps", "collective",
        "ranks_per_node", "auto_among", "auto_latency", "auto_bandwidth", "overlap", "bucket_cap_mb", "compression", "ratio", "bits", "bucket",
        "rank", "error_feedback", "momentum_correction", "privacy", "clip", "noise_multiplier", "delta",
        "target_epsilon", "epochs",
        "max_steps", "eval_interval", "eval_interval_epochs", "target_accuracy", "stop_at_target",
        "max_simulated_time", "faults", "events", "time", "host", "role", "index", "link", "random", "roles", "mtbf",
        "mttr", "distribution", "shape"};
    return order;
}

QString scalar(const QJsonValue& v)
{
    const QByteArray a = QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact);
    return QString::fromUtf8(a.mid(1, a.size() - 2));
}

void writeJson(const QJsonValue& v, int indent, QString& out)
{
    const QString pad(indent, ' ');
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        QStringList keys = o.keys();
        std::stable_sort(keys.begin(), keys.end(), [](const QString& a, const QString& b) {
            const qsizetype ia = keyOrder().indexOf(a), ib = keyOrder().indexOf(b);
            if ((ia < 0) != (ib < 0))
                return ia >= 0;
            return ia >= 0 ? ia < ib : a < b;
        });
        // Small objects of scalars stay on one line: { "type": "sgd", "learning_rate": 0.05 }.
        bool flat = keys.size() <= 4;
        for (const QString& k : keys)
            flat = flat && !o[k].isObject() && !o[k].isArray();
        if (keys.isEmpty()) {
            out += "{}";
            return;
        }
        out += flat ? "{ " : "{\n";
        for (qsizetype i = 0; i < keys.size(); ++i) {
            if (!flat)
                out += pad + "  ";
            out += scalar(keys[i]) + ": ";
            writeJson(o[keys[i]], indent + 2, out);
            if (i + 1 < keys.size())
                out += flat ? ", " : ",\n";
        }
        out += flat ? " }" : "\n" + pad + "}";
    } else if (v.isArray()) {
        const QJsonArray a = v.toArray();
        bool flat = true;
        for (const QJsonValue& x : a)
            flat = flat && !x.isObject() && !x.isArray();
        out += flat ? "[" : "[\n";
        for (qsizetype i = 0; i < a.size(); ++i) {
            if (!flat)
                out += pad + "  ";
            writeJson(a[i], indent + 2, out);
            if (i + 1 < a.size())
                out += flat ? ", " : ",\n";
        }
        out += flat ? "]" : "\n" + pad + "]";
    } else {
        out += scalar(v);
    }
}

} // namespace

struct ScenarioEditor::Private {
    ScenarioEditor* q;
    QTabWidget* tabs = nullptr;
    QPlainTextEdit* json = nullptr;
    QListWidget* issueList = nullptr;
    QLabel* status = nullptr;
    QLabel* formNote = nullptr;
    QWidget* form = nullptr;
    QListWidget* shipped = nullptr;
    QTimer* debounce = nullptr;
    std::vector<Field> fields;
    QJsonObject doc;        // the last text that was a JSON object
    QString file;           // where the text came from
    QByteArray savedText;   // the file's contents when opened / saved
    QStringList issues;
    QString name, description;
    bool updating = false;

    QFormLayout* group(QVBoxLayout* into, const QString& title)
    {
        auto* box = new QGroupBox(title);
        auto* f = new QFormLayout(box);
        f->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
        into->addWidget(box);
        return f;
    }
    void add(QFormLayout* f, const QString& label, const QString& path, Kind kind, QStringList choices = {},
             const QString& placeholder = {}, std::function<bool(const QJsonObject&)> applies = {}, int min = 0,
             int max = 0)
    {
        QWidget* w = nullptr;
        switch (kind) {
        case Kind::Text:
        case Kind::Number:
        case Kind::IntList: {
            auto* e = new QLineEdit;
            e->setPlaceholderText(placeholder);
            QObject::connect(e, &QLineEdit::textEdited, q, [this, path] { formEdited(path); });
            w = e;
            break;
        }
        case Kind::Int: {
            auto* s = new QSpinBox;
            s->setRange(min - 1, max);
            s->setSpecialValueText(placeholder.isEmpty() ? QString("default") : placeholder);
            QObject::connect(s, &QSpinBox::valueChanged, q, [this, path] { formEdited(path); });
            w = s;
            break;
        }
        case Kind::Choice: {
            auto* c = new QComboBox;
            c->addItems(choices);
            QObject::connect(c, &QComboBox::activated, q, [this, path] { formEdited(path); });
            w = c;
            break;
        }
        case Kind::Bool:
        case Kind::OptionalBool: {
            auto* c = new QCheckBox;
            c->setTristate(kind == Kind::OptionalBool);
            // stateChanged, not toggled: Qt counts the middle state as checked, so middle -> checked toggles nothing.
            QObject::connect(c, &QCheckBox::stateChanged, q, [this, path] { formEdited(path); });
            w = c;
            break;
        }
        }
        w->setObjectName(path);
        w->setToolTip(fieldTip(path));
        f->addRow(label, w);
        fields.push_back({path, kind, w, std::move(applies)});
    }

    void buildForm()
    {
        auto* lay = new QVBoxLayout(form);
        const auto is = [](const QString& path, QStringList values, const QString& def) {
            return [path, values, def](const QJsonObject& root) { return values.contains(str(root, path, def)); };
        };
        QFormLayout* g = group(lay, "Scenario");
        add(g, "Name", "name", Kind::Text, {}, "required");
        add(g, "Seed", "seed", Kind::Number, {}, "1");

        g = group(lay, "Platform");
        add(g, "Topology", "platform.topology", Kind::Choice, {"star", "fat-tree", "torus", "dragonfly", "edge", "xml"});
        add(g, "Workers", "platform.workers", Kind::Int, {}, "required", {}, 1, 100000);
        add(g, "Worker speed", "platform.worker_speed", Kind::Text, {}, "100Gf");
        add(g, "Server speed", "platform.server_speed", Kind::Text, {}, "= worker speed");
        add(g, "Link bandwidth", "platform.link_bandwidth", Kind::Text, {}, "10Gbps");
        add(g, "Link latency", "platform.link_latency", Kind::Text, {}, "50us");
        add(g, "Backbone bandwidth", "platform.backbone_bandwidth", Kind::Text, {}, "100Gbps");
        add(g, "Backbone latency", "platform.backbone_latency", Kind::Text, {}, "1us");
        add(g, "Network model", "platform.network_model", Kind::Choice, {"tcp", "ideal"});

        g = group(lay, "Workload");
        const QString ds = "workload.dataset.name";
        add(g, "Dataset", ds, Kind::Choice, {"fashion-mnist", "synthetic", "none"});
        add(g, "Dataset directory", "workload.dataset.path", Kind::Text, {}, "/usr/share/datasets/fashion-mnist",
            is(ds, {"fashion-mnist"}, "fashion-mnist"));
        add(g, "Training samples", "workload.dataset.train_samples", Kind::Number, {}, "all");
        add(g, "Test samples", "workload.dataset.test_samples", Kind::Number, {}, "all",
            is(ds, {"fashion-mnist", "synthetic"}, "fashion-mnist"));
        add(g, "Classes", "workload.dataset.classes", Kind::Number, {}, "", is(ds, {"synthetic", "none"}, "fashion-mnist"));
        add(g, "Features", "workload.dataset.features", Kind::Number, {}, "", is(ds, {"synthetic"}, "fashion-mnist"));
        add(g, "Separation", "workload.dataset.separation", Kind::Number, {}, "", is(ds, {"synthetic"}, "fashion-mnist"));
        const QString model = "workload.model.type";
        add(g, "Model", model, Kind::Choice, {"mlp", "logistic", "proxy", "cnn"});
        add(g, "Hidden layers", "workload.model.hidden", Kind::IntList, {}, "128", is(model, {"mlp"}, "mlp"));
        add(g, "Parameters", "workload.model.parameters", Kind::Number, {}, "e.g. 25600000", is(model, {"proxy"}, "mlp"));
        add(g, "Forward flops / sample", "workload.model.forward_flops", Kind::Text, {}, "e.g. 4.1Gf",
            is(model, {"proxy"}, "mlp"));
        add(g, "Batch size (per worker)", "workload.batch_size", Kind::Int, {}, "32", {}, 1, 1 << 20);
        const QString opt = "workload.optimizer.type";
        add(g, "Optimizer", opt, Kind::Choice, {"sgd", "momentum", "adam"});
        add(g, "Learning rate", "workload.optimizer.learning_rate", Kind::Number, {}, "0.05 (Adam 0.001)");
        add(g, "Momentum", "workload.optimizer.momentum", Kind::Number, {}, "0.9", is(opt, {"momentum"}, "sgd"));
        const QString part = "workload.partitioning.type";
        add(g, "Partitioning", part, Kind::Choice, {"iid", "dirichlet", "dirichlet-per-class", "shards"});
        add(g, "Dirichlet alpha", "workload.partitioning.alpha", Kind::Number, {}, "0.5",
            is(part, {"dirichlet", "dirichlet-per-class"}, "iid"));
        add(g, "Shards per client", "workload.partitioning.shards_per_client", Kind::Number, {}, "2",
            is(part, {"shards"}, "iid"));

        g = group(lay, "Strategy");
        const QString st = "strategy.type";
        add(g, "Strategy", st, Kind::Choice, {"sync-ps", "async-ps", "ring-allreduce", "fedavg", "hierfavg", "fedbuff"});
        add(g, "Staleness bound (clocks)", "strategy.staleness_bound", Kind::Number, {}, "unbounded", is(st, {"async-ps"}, ""));
        add(g, "Backup workers", "strategy.backup_workers", Kind::Number, {}, "0", is(st, {"sync-ps"}, ""));
        add(g, "Client fraction", "strategy.client_fraction", Kind::Number, {}, "0.1", is(st, {"fedavg"}, ""));
        add(g, "Local epochs", "strategy.local_epochs", Kind::Number, {}, "1", is(st, {"fedavg", "fedbuff"}, ""));
        add(g, "FedProx mu", "strategy.prox_mu", Kind::Number, {}, "0", is(st, {"fedavg"}, ""));
        add(g, "Rounds", "strategy.rounds", Kind::Number, {}, "from epochs", is(st, {"fedavg", "hierfavg", "fedbuff"}, ""));
        add(g, "Edge interval (local steps)", "strategy.edge_interval", Kind::Number, {}, "one local epoch",
            is(st, {"hierfavg"}, ""));
        add(g, "Cloud interval (edge rounds)", "strategy.cloud_interval", Kind::Number, {}, "1", is(st, {"hierfavg"}, ""));
        add(g, "Round deadline", "strategy.round_deadline", Kind::Text, {}, "none, e.g. 30s", is(st, {"fedavg"}, ""));
        add(g, "Target clients", "strategy.target_clients", Kind::Number, {}, "all sampled", is(st, {"fedavg"}, ""));
        add(g, "Concurrency", "strategy.concurrency", Kind::Number, {}, "10", is(st, {"fedbuff"}, ""));
        add(g, "Buffer size K", "strategy.buffer_size", Kind::Number, {}, "10", is(st, {"fedbuff"}, ""));
        add(g, "Server learning rate", "strategy.server_learning_rate", Kind::Number, {}, "1", is(st, {"fedbuff"}, ""));
        add(g, "Refill", "strategy.refill", Kind::Choice, {"report", "aggregation"}, {}, is(st, {"fedbuff"}, ""));
        add(g, "Recovery", "strategy.recovery", Kind::Choice, {"none", "elastic", "checkpoint-restart"}, {},
            is(st, {"sync-ps", "async-ps", "ring-allreduce"}, ""));
        add(g, "Failure detection", "strategy.failure_detection", Kind::Text, {}, "1s", [st](const QJsonObject& root) {
            const QString type = str(root, st, "");
            const QString recovery = str(root, "strategy.recovery", "none");
            return type == "fedavg" || type == "hierfavg" || type == "fedbuff" || type == "async-ps" ||
                   (type == "sync-ps" && recovery != "none") ||
                   (type == "ring-allreduce" && recovery == "elastic");
        });
        const auto checkpointing = [st](const QJsonObject& root) {
            return str(root, "strategy.recovery", "none") == "checkpoint-restart";
        };
        add(g, "Checkpoint every (steps)", "strategy.checkpoint.every_steps", Kind::Number, {}, "e.g. 10", checkpointing);
        add(g, "Checkpoint every (time)", "strategy.checkpoint.every", Kind::Text, {}, "e.g. 10min", checkpointing);
        add(g, "Checkpoint write bandwidth", "strategy.checkpoint.write_bandwidth", Kind::Text, {}, "1GBps",
            checkpointing);
        add(g, "Restart delay", "strategy.checkpoint.restart_delay", Kind::Text, {}, "30s", checkpointing);
        add(g, "Local steps (local SGD)", "strategy.local_steps", Kind::Int, {}, "1", is(st, {"sync-ps", "ring-allreduce"}, ""),
            1, 1000000);
        const QString coll = "strategy.collective";
        add(g, "All-reduce algorithm", coll, Kind::Choice,
            {"ring", "halving-doubling", "recursive-doubling", "binomial-tree", "double-binary-tree", "hierarchical",
             "auto"},
            {}, is(st, {"ring-allreduce"}, ""));
        add(g, "Ranks per node", "strategy.ranks_per_node", Kind::Number, {}, "platform.node.gpus, or 1",
            is(coll, {"hierarchical"}, "ring"));
        add(g, "Overlap backward pass", "strategy.overlap", Kind::Bool, {}, {}, is(st, {"sync-ps", "ring-allreduce"}, ""));
        add(g, "Bucket size (MiB)", "strategy.bucket_cap_mb", Kind::Number, {}, "25", [](const QJsonObject& root) {
            return valueAt(root, "strategy.overlap").toBool(false);
        });
        const QString comp = "strategy.compression.type";
        add(g, "Compression", comp, Kind::Choice, {"none", "topk", "randomk", "qsgd", "sign", "fp16", "bf16", "powersgd"});
        add(g, "Kept fraction", "strategy.compression.ratio", Kind::Number, {}, "0.01", is(comp, {"topk", "randomk"}, "none"));
        add(g, "QSGD bits", "strategy.compression.bits", Kind::Number, {}, "8", is(comp, {"qsgd"}, "none"));
        add(g, "QSGD bucket", "strategy.compression.bucket", Kind::Number, {}, "512", is(comp, {"qsgd"}, "none"));
        add(g, "PowerSGD rank", "strategy.compression.rank", Kind::Number, {}, "2", is(comp, {"powersgd"}, "none"));
        add(g, "Error feedback", "strategy.compression.error_feedback", Kind::OptionalBool, {}, {},
            is(comp, {"topk", "randomk", "qsgd", "sign", "fp16", "bf16", "powersgd"}, "none"));
        add(g, "DGC momentum correction", "strategy.compression.momentum_correction", Kind::Bool, {}, {},
            is(comp, {"topk", "randomk"}, "none"));
        const QString priv = "strategy.privacy.type";
        add(g, "Privacy", priv, Kind::Choice, {"none", "dp-fedavg", "dp-sgd"});
        add(g, "Clip (L2 norm)", "strategy.privacy.clip", Kind::Number, {}, "1", is(priv, {"dp-fedavg", "dp-sgd"}, "none"));
        add(g, "Noise multiplier", "strategy.privacy.noise_multiplier", Kind::Number, {}, "1",
            is(priv, {"dp-fedavg", "dp-sgd"}, "none"));
        add(g, "Delta", "strategy.privacy.delta", Kind::Number, {}, "1e-5", is(priv, {"dp-fedavg", "dp-sgd"}, "none"));
        add(g, "Target epsilon", "strategy.privacy.target_epsilon", Kind::Number, {}, "no budget",
            is(priv, {"dp-fedavg", "dp-sgd"}, "none"));

        g = group(lay, "Run");
        add(g, "Epochs", "run.epochs", Kind::Int, {}, "1", {}, 1, 1000000);
        add(g, "Max steps", "run.max_steps", Kind::Number, {}, "no limit");
        add(g, "Evaluate every (steps)", "run.eval_interval", Kind::Number, {}, "once per epoch");
        add(g, "Evaluate every (epochs)", "run.eval_interval_epochs", Kind::Number, {}, "");
        add(g, "Target accuracy", "run.target_accuracy", Kind::Number, {}, "none, e.g. 0.85");
        add(g, "Stop at target", "run.stop_at_target", Kind::Bool);
        add(g, "Max simulated time", "run.max_simulated_time", Kind::Text, {}, "no limit, e.g. 10s");
        lay->addStretch();
    }

    /// Keys that only apply to some types, without their own form field.
    static bool extraApplies(const QString& path, const QJsonObject& root)
    {
        if (path.startsWith("workload.optimizer.beta") || path == "workload.optimizer.epsilon")
            return str(root, "workload.optimizer.type", "sgd") == "adam";
        if (path == "workload.model.train_flops")
            return str(root, "workload.model.type", "mlp") == "proxy";
        return true;
    }

    /// Removes keys that do not apply to the chosen types (they would be "unknown key" errors).
    QJsonObject prune(QJsonObject root) const
    {
        for (const Field& f : fields)
            if (f.applies && !f.applies(root) && !valueAt(root, f.path).isUndefined())
                root = withValue(root, f.path.split('.'), QJsonValue::Undefined);
        for (const char* p : {"workload.optimizer.beta1", "workload.optimizer.beta2", "workload.optimizer.epsilon",
                              "workload.model.train_flops"})
            if (!extraApplies(p, root) && !valueAt(root, p).isUndefined())
                root = withValue(root, QString(p).split('.'), QJsonValue::Undefined);
        return root;
    }

    QJsonValue fieldValue(const Field& f) const
    {
        switch (f.kind) {
        case Kind::Text: {
            const QString t = static_cast<QLineEdit*>(f.widget)->text();
            return t.isEmpty() ? QJsonValue(QJsonValue::Undefined) : QJsonValue(t);
        }
        case Kind::Number: {
            const QString t = static_cast<QLineEdit*>(f.widget)->text().trimmed();
            if (t.isEmpty())
                return QJsonValue::Undefined;
            bool ok = false;
            const double v = t.toDouble(&ok);
            return ok ? QJsonValue(v) : QJsonValue(t); // not a number: the validator says what was expected
        }
        case Kind::Int: {
            auto* s = static_cast<QSpinBox*>(f.widget);
            return s->value() == s->minimum() ? QJsonValue(QJsonValue::Undefined) : QJsonValue(s->value());
        }
        case Kind::Choice: return static_cast<QComboBox*>(f.widget)->currentText();
        case Kind::Bool: {
            const bool on = static_cast<QCheckBox*>(f.widget)->isChecked();
            return on ? QJsonValue(true) : QJsonValue(QJsonValue::Undefined);
        }
        case Kind::OptionalBool: {
            const Qt::CheckState st = static_cast<QCheckBox*>(f.widget)->checkState();
            return st == Qt::PartiallyChecked ? QJsonValue(QJsonValue::Undefined) : QJsonValue(st == Qt::Checked);
        }
        case Kind::IntList: {
            const QString t = static_cast<QLineEdit*>(f.widget)->text().trimmed();
            if (t.isEmpty())
                return QJsonValue::Undefined;
            QJsonArray a;
            for (const QString& part : t.split(QRegularExpression("[,\\s]+"), Qt::SkipEmptyParts)) {
                bool ok = false;
                const int v = part.toInt(&ok);
                a.append(ok ? QJsonValue(v) : QJsonValue(part));
            }
            return a;
        }
        }
        return QJsonValue::Undefined;
    }

    void showField(const Field& f, const QJsonValue& v)
    {
        QSignalBlocker block(f.widget);
        switch (f.kind) {
        case Kind::Text:
        case Kind::Number:
            static_cast<QLineEdit*>(f.widget)->setText(v.isUndefined() ? QString() : v.isString() ? v.toString()
                                                                                                  : scalar(v));
            break;
        case Kind::Int: {
            auto* s = static_cast<QSpinBox*>(f.widget);
            s->setValue(v.isDouble() ? int(v.toDouble()) : s->minimum());
            break;
        }
        case Kind::Choice: {
            auto* c = static_cast<QComboBox*>(f.widget);
            const QString t = v.isString() ? v.toString() : QString();
            if (!t.isEmpty() && c->findText(t) < 0)
                c->addItem(t); // e.g. a topology or strategy this form does not know yet
            c->setCurrentIndex(t.isEmpty() ? 0 : c->findText(t));
            break;
        }
        case Kind::Bool: static_cast<QCheckBox*>(f.widget)->setChecked(v.isBool() && v.toBool()); break;
        case Kind::OptionalBool:
            static_cast<QCheckBox*>(f.widget)->setCheckState(!v.isBool() ? Qt::PartiallyChecked
                                                             : v.toBool() ? Qt::Checked : Qt::Unchecked);
            break;
        case Kind::IntList: {
            QStringList parts;
            for (const QJsonValue& x : v.toArray())
                parts << (x.isString() ? x.toString() : scalar(x));
            static_cast<QLineEdit*>(f.widget)->setText(parts.join(", "));
            break;
        }
        }
    }

    void formEdited(const QString& path)
    {
        if (updating)
            return;
        for (const Field& f : fields)
            if (f.path == path)
                doc = withValue(doc, path.split('.'), fieldValue(f));
        doc = prune(doc);
        QString text;
        writeJson(doc, 0, text);
        updating = true;
        json->setPlainText(text + "\n");
        updating = false;
        refreshForm();
        validateNow();
    }

    void refreshForm()
    {
        for (const Field& f : fields) {
            const QJsonValue v = valueAt(doc, f.path);
            showField(f, v);
            // A list or an object where the form expects one value (e.g. a speed distribution): JSON tab only.
            const bool structured = f.kind != Kind::IntList && (v.isObject() || v.isArray());
            f.widget->setEnabled((!f.applies || f.applies(doc)) && !structured);
            if (structured)
                f.widget->setToolTip(f.path + ": edit this value in the JSON tab");
        }
    }

    void textEdited()
    {
        if (updating)
            return;
        debounce->start();
    }

    void parseText()
    {
        QJsonParseError e;
        const QJsonDocument d = QJsonDocument::fromJson(json->toPlainText().toUtf8(), &e);
        const bool ok = e.error == QJsonParseError::NoError && d.isObject();
        if (ok) {
            doc = d.object();
            refreshForm();
        }
        form->setEnabled(ok);
        formNote->setVisible(!ok);
        validateNow();
    }

    bool validateNow()
    {
        const std::string text = json->toPlainText().toStdString();
        issues.clear();
        try {
            const app::Scenario s = app::parseScenario(text, "");
            name = QString::fromStdString(s.name);
            description = QString::fromStdString(s.description);
        } catch (const app::ScenarioError& e) {
            for (const auto& i : e.issues())
                issues << (i.path.empty() ? QString() : QString::fromStdString(i.path) + ": ") +
                              QString::fromStdString(i.message);
            name = str(doc, "name");
            description = str(doc, "description");
        } catch (const std::exception& e) {
            issues << QString::fromUtf8(e.what());
        }
        issueList->clear();
        issueList->addItems(issues);
        issueList->setVisible(!issues.isEmpty());
        status->setText(issues.isEmpty() ? QString("✔ valid scenario")
                                         : QString("✖ %1 problem%2: the scenario cannot run")
                                               .arg(issues.size())
                                               .arg(issues.size() > 1 ? "s" : ""));
        status->setStyleSheet(issues.isEmpty() ? "color: #1b7a2e; font-weight: bold"
                                               : "color: #b01e1e; font-weight: bold");
        // Mark the form fields the issues point at.
        for (const Field& f : fields) {
            QString tip;
            for (const QString& i : issues)
                if (i.startsWith(f.path + ":") || i.startsWith(f.path + "[") || i.startsWith(f.path + "."))
                    tip += (tip.isEmpty() ? "" : "\n") + i;
            f.widget->setStyleSheet(tip.isEmpty() ? QString() : QString("background: #ffd7d7"));
            f.widget->setToolTip(tip.isEmpty() ? fieldTip(f.path) : tip);
        }
        emit q->scenarioChanged();
        return issues.isEmpty();
    }
};

ScenarioEditor::ScenarioEditor(QWidget* parent) : QWidget(parent), d(std::make_unique<Private>())
{
    d->q = this;
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(4, 4, 4, 4);
    auto* split = new QSplitter(Qt::Vertical);
    lay->addWidget(split);

    auto* top = new QWidget;
    auto* topLay = new QVBoxLayout(top);
    topLay->setContentsMargins(0, 0, 0, 0);
    topLay->addWidget(new QLabel("Shipped scenarios and lessons (double-click to open):"));
    d->shipped = new QListWidget;
    d->shipped->setObjectName("shippedScenarios");
    topLay->addWidget(d->shipped);
    split->addWidget(top);

    auto* bottom = new QWidget;
    auto* bl = new QVBoxLayout(bottom);
    bl->setContentsMargins(0, 0, 0, 0);
    d->tabs = new QTabWidget;
    d->form = new QWidget;
    d->buildForm();
    auto* formPage = new QWidget;
    auto* fl = new QVBoxLayout(formPage);
    fl->setContentsMargins(0, 0, 0, 0);
    d->formNote = new QLabel("The JSON text is not valid JSON: fix it in the JSON tab to use the form.");
    d->formNote->setWordWrap(true);
    d->formNote->setStyleSheet("color: #b01e1e");
    d->formNote->hide();
    fl->addWidget(d->formNote);
    auto* scroll = new QScrollArea;
    scroll->setWidget(d->form);
    scroll->setWidgetResizable(true);
    fl->addWidget(scroll);
    d->tabs->addTab(formPage, "Form");
    d->json = new QPlainTextEdit;
    d->json->setObjectName("scenarioJson");
    d->json->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    d->json->setLineWrapMode(QPlainTextEdit::NoWrap);
    d->tabs->addTab(d->json, "JSON");
    bl->addWidget(d->tabs, 1);
    d->status = new QLabel;
    d->status->setObjectName("validity");
    bl->addWidget(d->status);
    d->issueList = new QListWidget;
    d->issueList->setObjectName("issues");
    d->issueList->setMaximumHeight(120);
    d->issueList->setStyleSheet("color: #b01e1e");
    d->issueList->setWordWrap(true);
    bl->addWidget(d->issueList);
    split->addWidget(bottom);
    d->shipped->setMinimumHeight(110);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 3);

    d->debounce = new QTimer(this);
    d->debounce->setSingleShot(true);
    d->debounce->setInterval(200);
    connect(d->debounce, &QTimer::timeout, this, [this] { d->parseText(); });
    connect(d->json, &QPlainTextEdit::textChanged, this, [this] { d->textEdited(); });
    connect(d->shipped, &QListWidget::itemActivated, this,
            [this](QListWidgetItem* item) { openFile(item->data(Qt::UserRole).toString()); });
    setText("{\n  \"name\": \"new scenario\",\n  \"platform\": { \"workers\": 4 },\n  \"strategy\": { \"type\": "
            "\"sync-ps\" }\n}\n");
}

ScenarioEditor::~ScenarioEditor() = default;

void ScenarioEditor::setScenarioDirs(const QStringList& dirs)
{
    d->shipped->clear();
    for (const QString& dir : dirs) {
        QStringList files;
        QDirIterator it(dir, {"*.json"}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext())
            files << it.next();
        files.sort();
        for (const QString& f : files) {
            QFile in(f);
            QString name;
            if (in.open(QIODevice::ReadOnly))
                name = QJsonDocument::fromJson(in.readAll()).object().value("name").toString();
            const QString rel = QDir(dir).relativeFilePath(f);
            auto* item = new QListWidgetItem(name.isEmpty() ? rel : rel + " — " + name, d->shipped);
            item->setData(Qt::UserRole, f);
            item->setToolTip(f);
        }
    }
}

bool ScenarioEditor::openFile(const QString& file)
{
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) {
        d->issues = {file + ": cannot read: " + f.errorString()};
        d->issueList->clear();
        d->issueList->addItems(d->issues);
        d->issueList->show();
        return false;
    }
    const QByteArray text = f.readAll();
    setText(QString::fromUtf8(text), QFileInfo(file).absoluteFilePath());
    d->savedText = text;
    return true;
}

void ScenarioEditor::setText(const QString& text, const QString& file)
{
    d->file = file;
    d->savedText.clear();
    d->updating = true;
    d->json->setPlainText(text);
    d->updating = false;
    d->debounce->stop();
    d->parseText();
    emit fileChanged(file);
}

QString ScenarioEditor::text() const
{
    return d->json->toPlainText();
}

QString ScenarioEditor::fileName() const
{
    return d->file;
}

bool ScenarioEditor::isModified() const
{
    return d->file.isEmpty() || d->json->toPlainText().toUtf8() != d->savedText;
}

bool ScenarioEditor::save()
{
    return !d->file.isEmpty() && saveAs(d->file);
}

bool ScenarioEditor::saveAs(const QString& file)
{
    QFile f(file);
    const QByteArray text = d->json->toPlainText().toUtf8();
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size())
        return false;
    d->file = QFileInfo(file).absoluteFilePath();
    d->savedText = text;
    emit fileChanged(d->file);
    return true;
}

bool ScenarioEditor::validate()
{
    d->debounce->stop();
    d->parseText();
    return d->issues.isEmpty();
}

QStringList ScenarioEditor::issues() const
{
    return d->issues;
}

QString ScenarioEditor::scenarioName() const
{
    return d->name;
}

QString ScenarioEditor::description() const
{
    return d->description;
}

QListWidget* ScenarioEditor::shippedList() const
{
    return d->shipped;
}

} // namespace dml::ui
