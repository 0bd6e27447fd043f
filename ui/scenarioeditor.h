// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The scenario editor: a form (platform, workload, strategy, run settings) and a JSON tab kept in sync, the
// validation issues with their JSON paths as you type, open/save, and the list of shipped scenarios.
#include <QWidget>

#include <memory>

class QListWidget;

namespace dml::ui {

class ScenarioEditor : public QWidget {
    Q_OBJECT
public:
    explicit ScenarioEditor(QWidget* parent = nullptr);
    ~ScenarioEditor() override;

    /// Lists the *.json files under these directories (recursively) as shipped scenarios.
    void setScenarioDirs(const QStringList& dirs);
    /// Loads a scenario file into the editor. Returns false (and reports why in the issue list) if unreadable.
    bool openFile(const QString& file);
    /// Replaces the text (e.g. a stored run's scenario); `file` is where it came from ("" = none).
    void setText(const QString& text, const QString& file = {});
    QString text() const;
    /// The file the text came from or was saved to ("" if none).
    QString fileName() const;
    /// True if the text differs from fileName()'s contents.
    bool isModified() const;
    bool save();
    bool saveAs(const QString& file);

    /// Validates the current text now (dmlsim's own scenario parser). Returns true if it can run.
    bool validate();
    /// The current issues as "path: message" lines (empty if valid).
    QStringList issues() const;
    QString scenarioName() const;
    QString description() const;
    QListWidget* shippedList() const;

signals:
    /// The text changed and was validated (name, description, validity may have changed).
    void scenarioChanged();
    void fileChanged(const QString& file);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace dml::ui
