// The ESM loop (esm/loop.hpp): plans, durable measurement, training, evaluation,
// extension, reports and plots. Sources of latencies live in loop_sources.cpp.
#include "esm/loop.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <exception>
#include <algorithm>
#include <map>
#include <numeric>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "esm/extend.hpp"
#include "esm/predictor.hpp"
#include "esm/svg.hpp"
#include "esm/table.hpp"
#include "esm/train.hpp"
#include "durable_log.hpp"
#include "sealed_file.hpp"

namespace esm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool file_exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
}

constexpr auto fmt = detail::short_number;

// ", bin 0: 3 of 25 planned" for each bin the next iteration got fewer samples than asked.
std::string short_bins(const IterationReport& r) {
    std::string s;
    for (size_t b = 0; b < r.asked_per_bin.size() && b < r.added_per_bin.size(); ++b)
        if (r.added_per_bin[b] < r.asked_per_bin[b])
            s += ", bin " + std::to_string(b) + ": " + std::to_string(r.added_per_bin[b]) + " of " +
                 std::to_string(r.asked_per_bin[b]) + " planned";
    return s.empty() ? s : s + " (the space, the pool or the sample budget ran out there)";
}

// The base predictors' identity: a hash of each one's file body without the library line
// (the same predictor saved by another library version is the same base).
std::string bases_id(const std::vector<std::shared_ptr<const Predictor>>& bases) {
    if (bases.empty()) return "none";
    std::string id;
    for (const auto& base : bases) {
        std::string s = base->serialize();
        s.erase(0, s.find('\n') + 1);
        char b[24];
        std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(fnv1a64(s.data(), s.size())));
        id += (id.empty() ? "" : ",") + std::string(b);
    }
    return id;
}

// How the loop trains its network, in one line: a resumed run retrains every iteration, and
// its plans follow from the accuracies, so these are part of the experiment too.
std::string training_id(const LoopOptions& o) {
    const MlpOptions& m = o.mlp;
    std::string hidden, grid;
    for (int h : m.hidden) hidden += (hidden.empty() ? "" : "x") + std::to_string(h);
    for (double w : o.wd_grid) grid += (grid.empty() ? "" : ",") + fmt(w);
    return "hidden=" + hidden + " lr=" + fmt(m.lr) + " weight_decay=" + fmt(m.weight_decay) +
           " wd_grid=" + (grid.empty() ? "none" : grid) + " epochs=" + std::to_string(m.epochs) +
           " min_steps=" + std::to_string(m.min_steps) + " batch=" + std::to_string(m.batch_size) +
           " val_frac=" + fmt(m.val_frac) + " patience=" + std::to_string(m.patience) +
           " schedule=" + (m.schedule == LrSchedule::Cosine ? "cosine" : "constant") +
           " log_target=" + (m.log_target ? "1" : "0") + " linear_skip=" + (m.linear_skip ? "1" : "0") +
           " relative_loss=" + (m.relative_loss ? "1" : "0") + " seed=" + std::to_string(m.seed) +
           " drift_correction=" + (o.drift_correction ? "1" : "0");
}

// The settings that define an experiment; a resumed run must match them (budgets may change).
// Settings added later read as their default in a directory written before them; "" = not
// compared there (the training options, recorded since the seventeenth session: an older
// directory may have been trained with any).
const std::map<std::string, std::string> kLaterSettings = {{"base", "none"}, {"training", ""}, {"numbers", ""}};
// Settings written with %g before `numbers: exact` (six digits: 99.99999 read 100); such a file
// is compared at that precision.
const char* const kNumberSettings[] = {"w1", "w2", "acc_th"};

std::vector<std::pair<std::string, std::string>> settings_of(const Space& space, const LoopOptions& o) {
    // On a fixed resolution area-depth encodes as area does (no depths appended): recorded as
    // area, so a run begun while area was the default resumes under today's default.
    const ResEncoding res =
        o.res_encoding == ResEncoding::AreaDepth && !space.elastic_resolution() ? ResEncoding::Area : o.res_encoding;
    return {{"space", space.name},
            {"strategy", strategy_name(o.strategy)},
            {"n_initial", std::to_string(o.n_initial)},
            {"n_step", std::to_string(o.n_step)},
            {"w1", detail::exact_number(o.w1)},
            {"w2", detail::exact_number(o.w2)},
            {"encoding", encoding_name(o.encoding)},
            {"res_encoding", res_encoding_name(res)},
            {"evaluation", o.binwise ? "bin-wise" : "overall"},
            {"n_bins", std::to_string(o.n_bins)},
            {"acc_th", detail::exact_number(o.acc_th)},
            {"test_size", std::to_string(o.test_size)},
            {"seed", std::to_string(o.seed)},
            {"base", bases_id(o.bases)},
            {"training", training_id(o)},
            {"numbers", "exact"}};
}

// plans.csv's first line, and the line that ends each iteration's plan (a `#` comment to
// CSV readers). A file that begins otherwise was written before the end lines.
const std::string kPlansHead = "# samples planned per iteration, each iteration's rows followed by '# end of iteration N'\n";
const std::string kPlanEnd = "# end of iteration ";

struct Planned {
    int iteration;
    bool test;
    std::string arch;
};

// One run per output directory: an flock on the directory itself, held while the run lasts
// (the kernel drops it with the process), taken before anything in the directory is read.
class DirectoryLock {
public:
    explicit DirectoryLock(const std::string& dir) {
        fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_ < 0) throw Error(ErrorKind::Io, "cannot open '" + dir + "': " + std::strerror(errno));
        // A file system without locks (ENOLCK, ENOSYS) runs without one, as DurableLog does.
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
            ::close(fd_);
            throw Error(ErrorKind::Io, "'" + dir + "' is being written by another run right now");
        }
    }
    ~DirectoryLock() { ::close(fd_); }
    DirectoryLock(const DirectoryLock&) = delete;
    DirectoryLock& operator=(const DirectoryLock&) = delete;

private:
    int fd_ = -1;
};

class Loop {
public:
    Loop(const Space& s, const LoopOptions& o, LatencySource& src, const std::function<void(const LoopProgress&)>& p)
        : space_(s), opt_(o), src_(src), progress_(p), t0_(Clock::now()) {}

    LoopResult run();

private:
    void open_outputs();
    // plans.csv's text; returns how many of its bytes hold whole iterations' plans (the
    // rest, an iteration's plan cut short, is not loaded)
    size_t load_plans(const std::string& text);
    int plan_iteration(int it, const IterationReport* previous);  // the samples planned for `it`
    int planned_count(int it) const;                              // samples plans.csv holds for `it`
    double unplanned(const Sampler& sm, int bin) const;
    std::vector<Arch> draw(Strategy st, int n, int bin, uint64_t seed_salt);
    std::vector<Arch> draw_test(int n);
    uint64_t seed_for(uint64_t salt) const;
    // The depth bin of a planned architecture's text.
    size_t bin_of(const std::string& arch) const {
        return static_cast<size_t>(space_.bin_of(parse_arch(space_, arch).depth(), opt_.n_bins));
    }
    double measure_iteration(int it);
    IterationReport train_and_evaluate(int it, Predictor** out);
    void write_reports(const LoopResult& r, const std::vector<double>& y, const std::vector<double>& yhat);
    void report(const LoopProgress& p) const {
        if (progress_) progress_(p);
    }
    // "; bin 4 (depth 24..28) has no test sample ..." for the progress line of iteration `it`
    // (bin-wise only), with the new test architectures planned there for the next.
    std::string untested_note(int it) const {
        if (!opt_.binwise || untested_bins_.empty()) return "";
        const auto retests = std::count_if(plans_.begin(), plans_.end(),
                                           [&](const Planned& p) { return p.test && p.iteration == it + 1; });
        std::string s;
        for (int b : untested_bins_)
            s += std::string(s.empty() ? "" : ", ") + "bin " + std::to_string(b) + " (depth " +
                 std::to_string(space_.bin_lo(b, opt_.n_bins)) + ".." + std::to_string(space_.bin_hi(b, opt_.n_bins)) + ")";
        return "; " + s + (untested_bins_.size() > 1 ? " have" : " has") +
               " no test sample left (quality control dropped them as outliers): the bin-wise criterion cannot pass" +
               (retests ? " until one is measured (" + std::to_string(retests) + " new test architectures planned)" : "");
    }

    const Space& space_;
    LoopOptions opt_;
    std::vector<std::pair<std::string, std::string>> settings_;  // settings_of(space_, opt_), set once by run()
    LatencySource& src_;
    std::function<void(const LoopProgress&)> progress_;
    Clock::time_point t0_;
    std::string dir_;
    std::unique_ptr<DirectoryLock> dir_lock_;
    std::unique_ptr<DurableLog> plans_log_;
    std::unique_ptr<DatasetWriter> data_;
    std::vector<Planned> plans_;
    std::unordered_set<std::string> planned_set_;
    std::vector<DatasetRow> rows_;                      // the dataset's rows, in file order
    std::unordered_map<std::string, double> measured_;  // sample latencies (ms) in the dataset
    std::unordered_set<std::string> dropped_;           // samples quality control rejected
    std::unique_ptr<Predictor> predictor_;
    LatencyData test_;  // the last evaluation's test set
    // Bins the test set planned architectures for that have no measured test sample (quality
    // control dropped all of them as outliers): the bin-wise criterion cannot judge them, so
    // it does not pass (set by train_and_evaluate).
    std::vector<int> untested_bins_;
};

void Loop::open_outputs() {
    dir_ = opt_.out_dir;
    make_directories(dir_);
    make_directories(dir_ + "/plots");
    // One run per directory, and every check before any write: a refused run (another one
    // writing it, other settings, another space or device) changes nothing.
    dir_lock_ = std::make_unique<DirectoryLock>(dir_);
    // settings.txt: written once; a resume must agree.
    const std::string settings_path = dir_ + "/settings.txt";
    std::string acc_was, acc_now;  // Acc_TH may be raised on a rerun (a finished run pushed further)
    std::string settings_text;  // settings.txt as on disk
    if (file_exists(settings_path)) {
        Table old;
        try {
            // "# key: value" lines, and a last line "key" in files written before 2026-12-05
            // (a column row for the table reader, added here when absent).
            settings_text = detail::read_whole_file(settings_path, "settings");
            const bool has_key = settings_text.size() >= 4 && settings_text.compare(settings_text.size() - 4, 4, "key\n") == 0;
            old = parse_table(has_key ? settings_text : settings_text + "key\n", settings_path);
        } catch (const Error& e) {
            throw Error(ErrorKind::Format, std::string(e.what()) + " (settings.txt is written once, whole, by esm-build: "
                                           "restore it, or use another output directory; esm-train trains on "
                                           "the dataset.csv measured so far)");
        }
        const bool six_digits = !old.has_meta("numbers");
        for (const auto& [k, exact] : settings_) {
            const auto later = kLaterSettings.find(k);
            if (!old.has_meta(k) && later != kLaterSettings.end() && later->second.empty()) continue;
            const std::string was = old.meta_value(k, later == kLaterSettings.end() ? "?" : later->second);
            const bool number = std::find(std::begin(kNumberSettings), std::end(kNumberSettings), k) != std::end(kNumberSettings);
            const std::string v = six_digits && number ? fmt(detail::strtod_c(exact.c_str(), nullptr)) : exact;
            if (k == "acc_th" && was != v) {  // raised: allowed; lowered: refused below
                char* end = nullptr;
                const double old_acc = detail::strtod_c(was.c_str(), &end);
                if (*end == '\0' && end != was.c_str() && old_acc < opt_.acc_th) {
                    acc_was = was;
                    acc_now = v;  // at the file's precision
                    continue;
                }
                throw Error(ErrorKind::InvalidArgument, "'" + dir_ + "' holds a run with acc_th = " + was + ", this run asks " +
                                                            v + ": a rerun may raise Acc_TH, not lower it (the iterations "
                                                            "after it would be lost from the report); use another output "
                                                            "directory");
            }
            if (was != v)
                throw Error(ErrorKind::InvalidArgument, "'" + dir_ + "' holds a run with " + k + " = " + was +
                                                            ", this run asks " + k + " = " + v +
                                                            (k == "base" ? " (each --base predictor by a hash of its "
                                                                           "content: another file, or one changed since)"
                                                                         : "") +
                                                            "; use the same settings to resume, or another output directory");
        }
    }
    // space.txt: the description the runner is handed; a resume must be of the same space
    // (directories whose dataset header predates the space lines are caught here).
    const std::string space_path = dir_ + "/space.txt";
    if (file_exists(space_path)) {
        const Space was = load_space_file(space_path);
        if (was != space_)
            throw Error(ErrorKind::InvalidArgument, "'" + dir_ + "' holds a run of " + space_difference(was, space_) +
                                                        "; use the same space to resume, or another output directory");
    }
    // dataset.csv: DatasetWriter refuses a file of another device, protocol or space.
    data_ = std::make_unique<DatasetWriter>(dir_ + "/dataset.csv", src_.header(), src_.precious());
    rows_ = data_->existing();
    for (const auto& r : rows_) {
        if (r.kind == "sample") measured_[r.arch] = r.stats.latency_ms;
        if (r.kind == "dropped") dropped_.insert(r.arch);
    }
    src_.resume(data_->existing());
    // plans.csv: empty or its header cut short by a kill (nothing planned yet): begun afresh.
    // An iteration's plan is one append ending in its own line; an append cut short (a kill
    // between two pages of it, a power loss) is cut off and planned again, as it was.
    const std::string plans_path = dir_ + "/plans.csv", plans_head = kPlansHead + "iteration,set,arch\n";
    plans_log_ = std::make_unique<DurableLog>(plans_path, DurableLog::LockOnly{}, true);
    const std::string plans_text = detail::read_appended_file(plans_path, "plans");  // (a NUL tail: a power loss)
    if (plans_text.size() <= plans_head.size() && plans_head.compare(0, plans_text.size(), plans_text) == 0) {
        plans_log_->replace(plans_head);
    } else {
        const size_t whole = load_plans(plans_text);
        if (plans_.empty()) {
            plans_log_->replace(plans_head);
        } else {
            plans_log_->prepare(plans_head);
            if (whole < plans_text.size()) plans_log_->truncate_to(static_cast<long long>(whole));
        }
    }
    // Every check passed: settings.txt (a new one, or the raised Acc_TH in the old one, its
    // other lines as they were) and space.txt.
    if (settings_text.empty()) {
        std::string text = "# libesm esm-build settings\n";
        for (const auto& [k, v] : settings_) text += "# " + k + ": " + v + "\n";
        write_file_atomic(settings_path, text);
    } else if (!acc_was.empty()) {
        const std::string from = "# acc_th: " + acc_was + "\n", to = "# acc_th: " + acc_now + "\n";
        const size_t at = settings_text.find(from);
        write_file_atomic(settings_path, at == std::string::npos ? settings_text + to
                                                                 : settings_text.replace(at, from.size(), to));
        LoopProgress note;
        note.phase = "note";
        note.message = "Acc_TH raised from " + acc_was + " % to " + acc_now + " % in '" + dir_ +
                       "': the iterations already planned replay as planned and are judged by the new threshold; "
                       "later ones follow it";
        report(note);
    }
    write_file_atomic(space_path, format_space(space_));
}

size_t Loop::load_plans(const std::string& text) {
    const std::string path = dir_ + "/plans.csv";
    bool torn = false;
    Table t = parse_table(text, path, true, &torn);
    const int ci = t.require_column("iteration"), cs = t.require_column("set"), ca = t.require_column("arch");
    std::vector<Planned> rows;
    for (size_t r = 0; r < t.rows.size(); ++r) {
        Arch a;
        std::string err;
        if (!try_parse_arch(space_, t.rows[r][ca], &a, &err))
            throw Error(ErrorKind::Format, path + ":" + std::to_string(t.row_lines[r]) + ": " + err);
        rows.push_back({static_cast<int>(t.integer(r, ci, 0, 1 << 30)), t.rows[r][cs] == "test", t.rows[r][ca]});
    }
    // Files begun before the end lines (their first line is not kPlansHead's) are taken whole
    // until a run of this version has appended an end line to them.
    size_t whole = text.size(), kept = rows.size();
    if (text.compare(0, kPlansHead.size(), kPlansHead) == 0 || text.find("\n" + kPlanEnd) != std::string::npos) {
        // The rows after the last end line: an iteration whose plan was cut short.
        whole = 0;
        kept = 0;
        int line = 0;
        for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
            ++line;
            const bool column_row = line == 2, end_line = text.compare(pos, kPlanEnd.size(), kPlanEnd) == 0;
            if (!column_row && !end_line) continue;
            whole = nl + 1;
            while (kept < rows.size() && t.row_lines[kept] < line) ++kept;
        }
    }
    if (kept < rows.size()) {
        LoopProgress note;
        note.phase = "note";
        note.message = path + ": iteration " + std::to_string(rows[kept].iteration) + "'s plan was cut short (" +
                       std::to_string(rows.size() - kept) + " of its rows written when the run stopped); planned again";
        report(note);
    }
    for (size_t r = 0; r < kept; ++r) {
        plans_.push_back(rows[r]);
        planned_set_.insert(rows[r].arch);
    }
    return whole;
}

// Fresh RNG per (iteration, purpose): a resumed run plans exactly what an uninterrupted one would.
uint64_t Loop::seed_for(uint64_t salt) const { return opt_.seed * 0x9E3779B97F4A7C15ull + salt; }

// The held-out test set, stratified: as many archs in every bin as the space (or the pool)
// allows, so that each bin's accuracy in the bin-wise criterion rests on the same count.
std::vector<Arch> Loop::draw_test(int n) {
    if (n <= 0) return {};
    if (const Pool* pool = src_.pool()) {
        Rng rng(seed_for(1));
        return pool->draw_stratified(n, opt_.n_bins, rng, planned_set_);
    }
    return Sampler(space_, seed_for(1)).sample_stratified(n, opt_.n_bins, &planned_set_);
}

std::vector<Arch> Loop::draw(Strategy st, int n, int bin, uint64_t salt) {
    if (n <= 0) return {};
    const uint64_t seed = seed_for(salt);
    if (const Pool* pool = src_.pool()) {
        Rng rng(seed);
        return bin >= 0 ? pool->draw_bin(bin, opt_.n_bins, n, rng, planned_set_)
                        : pool->draw(st, n, opt_.n_bins, rng, planned_set_);
    }
    Sampler sm(space_, seed);
    n = static_cast<int>(std::min<double>(n, unplanned(sm, bin)));  // a small space runs out
    if (n <= 0) return {};
    return bin >= 0 ? sm.sample_bin(bin, opt_.n_bins, n, &planned_set_) : sm.sample(st, n, opt_.n_bins, &planned_set_);
}

// Architectures of `bin` (-1: the space) not planned yet. Counted only when the space is
// small enough for the plans to matter.
double Loop::unplanned(const Sampler& sm, int bin) const {
    double size = 0;
    for (int b = 0; b < opt_.n_bins; ++b)
        if (bin < 0 || b == bin) size += sm.bin_size(b, opt_.n_bins);
    if (size > 1e9) return size;
    double used = 0;
    for (const auto& text : planned_set_)
        if (bin < 0 || bin_of(text) == static_cast<size_t>(bin)) ++used;
    return size - used;
}

int Loop::planned_count(int it) const {
    int n = 0;
    for (const auto& p : plans_) n += p.iteration == it;
    return n;
}

int Loop::plan_iteration(int it, const IterationReport* prev) {
    if (const int existing = planned_count(it)) return existing;  // already planned (a resumed run)
    std::vector<std::pair<bool, Arch>> add;
    auto push = [&](bool test, std::vector<Arch> v) {
        for (auto& a : v) {
            planned_set_.insert(format_arch(space_, a));
            add.push_back({test, std::move(a)});
        }
    };
    int budget = opt_.max_samples > 0 ? opt_.max_samples - static_cast<int>(plans_.size()) : 1 << 30;
    // A bin whose test samples quality control all dropped (untested_bins_, from the evaluation
    // of it - 1) gets as many new test architectures as the test set first planned there: a
    // dropped sample is not measured again, and without one the bin-wise criterion cannot pass.
    for (int b : it > 0 ? untested_bins_ : std::vector<int>()) {
        const int first = static_cast<int>(std::count_if(plans_.begin(), plans_.end(), [&](const Planned& pl) {
            return pl.test && pl.iteration == 0 && bin_of(pl.arch) == static_cast<size_t>(b);
        }));
        const size_t before = add.size();
        push(true, draw(Strategy::Balanced, std::min(first, budget), b, 1000ull * it + 7 * b + 5));
        budget -= static_cast<int>(add.size() - before);
    }
    if (it == 0) {
        push(true, draw_test(std::min(opt_.test_size, budget)));
        budget -= static_cast<int>(add.size());
        push(false, draw(opt_.strategy, std::min(opt_.n_initial, budget), -1, 2));
    } else if (opt_.strategy == Strategy::Random) {
        push(false, draw(Strategy::Random, std::min(opt_.n_step, budget), -1, 1000ull * it));
    } else {
        // A sample budget too small for the whole extension is shared in proportion to what
        // each bin asks (esm::fit_extension; taken in bin order, it went to the first bins,
        // below Acc_TH or not, and none to the last), and what a bin cannot take (the space
        // or the pool ran out there) is shared again over the others. When the budget holds
        // the extension, the first round plans all of it.
        std::vector<int> want = prev->asked_per_bin;
        int room = budget;
        for (uint64_t round = 0; room > 0; ++round) {
            const std::vector<int> n = fit_extension(want, room);
            if (std::accumulate(n.begin(), n.end(), 0) == 0) break;
            for (size_t b = 0; b < n.size(); ++b) {
                if (n[b] == 0) continue;
                const size_t before = add.size();
                push(false, draw(Strategy::Balanced, n[b], static_cast<int>(b), 1000ull * it + 7 * b + 3 + (round << 40)));
                const int got = static_cast<int>(add.size() - before);
                room -= got;
                want[b] = got < n[b] ? 0 : want[b] - got;  // a bin that ran out is asked no more
            }
        }
    }
    std::string text;
    for (const auto& [test, a] : add) {
        const std::string t = format_arch(space_, a);
        text += std::to_string(it) + (test ? ",test," : ",train,") + t + "\n";
        plans_.push_back({it, test, t});
    }
    // One append, its end line last: a plan cut short is known as such (load_plans).
    if (!text.empty()) plans_log_->append(text + kPlanEnd + std::to_string(it) + "\n");
    return static_cast<int>(add.size());
}

double Loop::measure_iteration(int it) {
    std::vector<std::string> todo;
    for (const auto& p : plans_)
        if (p.iteration == it && !measured_.count(p.arch) && !dropped_.count(p.arch)) todo.push_back(p.arch);
    if (todo.empty()) return 0;
    const auto t0 = Clock::now();
    int done = 0;
    MeasurePace pace(todo.size());
    src_.measure(todo, [&](const DatasetRow& measured) {
        // As the file holds it: a resumed run retrains on what it reads back, ten digits (the
        // full-precision value flipped a float's last bit now and then, and a fresh run's
        // training went another way than its resume's: other accuracies, another predictor).
        const DatasetRow row = data_->append(measured);
        rows_.push_back(row);
        if (row.kind == "dropped") dropped_.insert(row.arch);
        pace.on_row(row);
        if (row.kind != "sample" && row.kind != "dropped") return;  // progress counts confirmed samples
        if (row.kind == "sample") measured_[row.arch] = row.stats.latency_ms;
        LoopProgress p;
        p.phase = "measure";
        p.iteration = it;
        p.done = ++done;
        p.total = static_cast<int>(todo.size());
        p.elapsed_s = seconds_since(t0);
        p.eta_s = p.done == p.total ? 0 : pace.eta_s();
        report(p);
    });
    return seconds_since(t0);
}

IterationReport Loop::train_and_evaluate(int it, Predictor** out) {
    IterationReport r;
    std::unordered_map<std::string, double> factor;
    if (opt_.drift_correction) {
        // On the rows an uninterrupted run had when it trained `it`: those before the first
        // measurement of a later iteration's sample. A resumed run, retraining every
        // iteration, then trains each on the same latencies (later references would move
        // the factors' median).
        std::unordered_map<std::string, int> iteration_of;
        for (const auto& p : plans_) iteration_of[p.arch] = p.iteration;
        size_t known = 0;
        for (; known < rows_.size(); ++known) {
            const DatasetRow& row = rows_[known];
            const auto f = iteration_of.find(row.arch);
            if (row.kind != "ref" && row.kind != "baseline" && f != iteration_of.end() && f->second > it) break;
        }
        const std::vector<DatasetRow> then(rows_.begin(), rows_.begin() + static_cast<long>(known));
        const DriftFactors drift = drift_factors(then);
        for (size_t i = 0; i < then.size(); ++i)
            if (then[i].kind == "sample") factor[then[i].arch] = drift.factor[i];
        r.drift = drift.range;
    }
    test_ = LatencyData();
    LatencyData train, &test = test_;
    for (const auto& p : plans_) {
        if (p.iteration > it) continue;
        auto m = measured_.find(p.arch);
        if (m == measured_.end()) {  // dropped by quality control as an outlier
            r.dropped += static_cast<int>(dropped_.count(p.arch));
            continue;
        }
        LatencyData& d = p.test ? test : train;
        d.archs.push_back(parse_arch(space_, p.arch));
        auto f = factor.find(p.arch);
        d.latency.push_back(f == factor.end() ? m->second : m->second / f->second);
    }
    if (train.size() < 2 || test.size() < 1)
        throw Error(ErrorKind::InvalidArgument, "too few measured samples to train (" + std::to_string(train.size()) +
                                                    " train, " + std::to_string(test.size()) + " test)");
    train.target = test.target = "latency_ms";
    train.meta = data_->meta();  // as in dataset.csv (its `created`: the file's)
    // A bin the test set planned for whose test samples were all dropped has no accuracy: the
    // space (or the pool) has architectures there, so "every bin >= Acc_TH" cannot be claimed
    // (a bin the pool holds none of is planned none and is not judged, as before).
    std::vector<int> planned_test(static_cast<size_t>(opt_.n_bins), 0), measured_test = planned_test;
    for (const auto& p : plans_)
        if (p.test && p.iteration <= it) {
            const size_t b = bin_of(p.arch);
            ++planned_test[b];
            measured_test[b] += static_cast<int>(measured_.count(p.arch));
        }
    // (Bin-wise only: the overall criterion judges the test set as a whole, and plan_iteration
    // would plan new test architectures for these bins that it does not need.)
    untested_bins_.clear();
    for (int b = 0; b < opt_.n_bins && opt_.binwise; ++b)
        if (planned_test[b] > 0 && measured_test[b] == 0) untested_bins_.push_back(b);
    const auto t0 = Clock::now();
    auto passes = [&](const MetricsReport& m) {
        return opt_.binwise ? m.all_bins_at_least(opt_.acc_th) && untested_bins_.empty()
                            : m.overall.accuracy >= opt_.acc_th;
    };
    auto score = [&](const MetricsReport& m) { return opt_.binwise ? m.worst_bin_accuracy() : m.overall.accuracy; };
    predictor_.reset();
    // Keeps `cand` when there is no predictor yet or it is more accurate on the test set; a
    // score of NaN (a broken candidate: no figure) is below every number.
    auto offer = [&](Predictor cand, std::string model) {
        MetricsReport m = evaluate_predictor(cand, test, opt_.n_bins);
        const double s = score(m), kept = predictor_ ? score(r.metrics) : NAN;
        if (!predictor_ || (std::isnan(kept) && !std::isnan(s)) || s > kept) {
            predictor_ = std::make_unique<Predictor>(std::move(cand));
            r.metrics = std::move(m);
            r.model = std::move(model);
        }
    };
    if (!opt_.bases.empty()) {
        double a = 0, b = 0;
        try {
            size_t k = 0;
            if (opt_.bases.size() > 1) {
                std::vector<const Predictor*> v;
                for (const auto& base : opt_.bases) v.push_back(base.get());
                k = pick_base(v, train);
            }
            predictor_ = std::make_unique<Predictor>(calibrate_predictor(*opt_.bases[k], train, &a, &b));
            r.metrics = evaluate_predictor(*predictor_, test, opt_.n_bins);
            r.model = "calibrated base" +
                      (opt_.bases.size() > 1 ? " " + std::to_string(k + 1) + " of " + std::to_string(opt_.bases.size()) : "") +
                      ": latency = " + fmt(a) + " * base " + (b < 0 ? "- " : "+ ") + fmt(std::fabs(b));
        } catch (const Error&) {
            predictor_.reset();  // none fits these rows (esm::calibrate_predictor): the network alone
        }
        if (predictor_ && !passes(r.metrics))
            offer(fine_tune_predictor(*predictor_, train, fine_tune_options(opt_.mlp)), "fine-tuned " + r.model);
    }
    if (!predictor_ || !passes(r.metrics)) {
        TrainConfig cfg;
        cfg.encoding = opt_.encoding;
        cfg.res = opt_.res_encoding;
        cfg.weight_decay_grid = opt_.wd_grid;
        cfg.mlp = opt_.mlp;
        cfg.n_bins = opt_.n_bins;
        offer(train_predictor(space_, train, cfg), "network");
    }
    r.iteration = it;
    r.train_samples = static_cast<int>(train.size());
    r.test_samples = static_cast<int>(test.size());
    // The file's `bins` names the bins of its metrics (docs/predictor_format.md): the loop's,
    // not a calibrated base's own (calibrate_predictor keeps the base's).
    predictor_->n_bins = opt_.n_bins;
    predictor_->metrics_json = metrics_json(r.metrics);
    r.train_seconds = seconds_since(t0);
    r.passed = passes(r.metrics);
    *out = predictor_.get();
    return r;
}

void Loop::write_reports(const LoopResult& res, const std::vector<double>& y, const std::vector<double>& yhat) {
    std::ostringstream j;
    j.imbue(std::locale::classic());  // (the host's global C++ locale could group digits)
    j << "{\n  \"space\": \"" << space_.name << "\",\n  \"settings\": {";
    const auto& settings = settings_;
    for (size_t i = 0; i < settings.size(); ++i)
        j << (i ? ", " : "") << '"' << settings[i].first << "\": \"" << settings[i].second << '"';
    j << "},\n  \"drift_correction\": " << (opt_.drift_correction ? "true" : "false")
      << ",\n  \"converged\": " << (res.converged ? "true" : "false") << ",\n  \"stop_reason\": \"" << res.stop_reason
      << "\",\n  \"iterations\": [\n";
    for (size_t i = 0; i < res.iterations.size(); ++i) {
        const auto& it = res.iterations[i];
        j << "    {\"iteration\": " << it.iteration << ", \"train_samples\": " << it.train_samples
          << ", \"test_samples\": " << it.test_samples << ", \"dropped_samples\": " << it.dropped
          << ", \"measure_seconds\": " << fmt(it.measure_seconds)
          << ", \"train_seconds\": " << fmt(it.train_seconds) << ", \"passed\": " << (it.passed ? "true" : "false")
          << ", \"model\": \"" << it.model << "\", \"asked_per_bin\": [";
        for (size_t b = 0; b < it.asked_per_bin.size(); ++b) j << (b ? ", " : "") << it.asked_per_bin[b];
        j << "], \"added_per_bin\": [";
        for (size_t b = 0; b < it.added_per_bin.size(); ++b) j << (b ? ", " : "") << it.added_per_bin[b];
        j << "], \"drift_factors\": [" << fmt(it.drift.lo) << ", " << fmt(it.drift.hi)
          << "], \"metrics\": " << metrics_json(it.metrics) << "}" << (i + 1 < res.iterations.size() ? "," : "") << "\n";
    }
    j << "  ]\n}\n";
    write_file_atomic(res.report_path, j.str());

    const bool corrected = !res.iterations.empty() && res.iterations.back().drift.hi > res.iterations.back().drift.lo;
    // The titles name what was measured: the device (a GPU's model from its header), the
    // replayed column or the runner, cut to fit the width at a UTF-8 character boundary.
    std::string on = space_.name;
    for (const auto& [key, value] : data_->meta()) {
        if (key != "device" && key != "pool_target" && key != "runner") continue;
        std::string what = value;
        if (const size_t gpu = what.find("gpu="); key == "device" && gpu != std::string::npos)
            what = what.substr(gpu + 4, what.find(';', gpu) - gpu - 4);
        on += (key == "runner" ? " via " : " on ") + what;
    }
    if (on.size() > 48) {
        size_t cut = 45;
        while (cut > 0 && (static_cast<unsigned char>(on[cut]) & 0xC0) == 0x80) --cut;
        on = on.substr(0, cut) + "...";
    }
    write_file_atomic(res.plot_paths[0], svg_scatter(on + ": predicted vs measured (test set)",
                                                     corrected ? "measured latency (ms, drift-corrected)" : "measured latency (ms)",
                                                     "predicted latency (ms)", y, yhat));
    std::vector<Series> bins(static_cast<size_t>(opt_.n_bins)), curve(2);
    curve[0].name = "overall accuracy";
    curve[1].name = "worst bin accuracy";
    for (const auto& it : res.iterations) {
        for (int b = 0; b < opt_.n_bins && b < static_cast<int>(it.metrics.bins.size()); ++b) {
            bins[b].name = "bin " + std::to_string(b) + ": depth " + std::to_string(it.metrics.bin_lo[b]) + ".." +
                           std::to_string(it.metrics.bin_hi[b]);
            bins[b].x.push_back(it.iteration);
            bins[b].y.push_back(it.metrics.bins[b].accuracy);
        }
        curve[0].x.push_back(it.train_samples);
        curve[0].y.push_back(it.metrics.overall.accuracy);
        curve[1].x.push_back(it.train_samples);
        curve[1].y.push_back(it.metrics.worst_bin_accuracy());
    }
    const std::string threshold = "Acc_TH " + fmt(opt_.acc_th) + " %";
    write_file_atomic(res.plot_paths[1],
                      svg_lines(on + ": accuracy per bin", "iteration", "accuracy (%)", bins, opt_.acc_th, threshold));
    write_file_atomic(res.plot_paths[2], svg_lines(on + ": accuracy vs training samples", "training samples",
                                                   "accuracy (%)", curve, opt_.acc_th, threshold));
}

LoopResult Loop::run() {
    if (opt_.n_bins < 1 || opt_.n_initial < 2 || opt_.n_step < 1 || opt_.test_size < 1)
        throw Error(ErrorKind::InvalidArgument, "loop needs N_bins >= 1, N_I >= 2, N_step >= 1 and a test set of >= 1");
    if (opt_.binwise && opt_.test_size < opt_.n_bins)
        throw Error(ErrorKind::InvalidArgument, "the bin-wise criterion needs a test set of at least N_bins (" +
                                                    std::to_string(opt_.n_bins) + ") architectures, one per bin; got " +
                                                    std::to_string(opt_.test_size));
    space_.bin_of(space_.min_depth(), opt_.n_bins);  // validates N_bins for this space
    extension_per_bin({0.0}, opt_.acc_th, opt_.n_step, opt_.w1, opt_.w2);  // validates w1, w2
    // Iteration 0 needs the test set and 2 training samples: refused now, not after measuring
    // (the budget: iteration 0's plan is kept, so a larger one later would not mend it).
    if (opt_.max_samples > 0 && opt_.max_samples < opt_.test_size + 2)
        throw Error(ErrorKind::InvalidArgument, "the sample budget (" + std::to_string(opt_.max_samples) +
                                                    ") must hold the test set (" + std::to_string(opt_.test_size) +
                                                    ") and at least 2 training samples");
    const double archs = src_.pool() ? static_cast<double>(src_.pool()->size()) : unplanned(Sampler(space_, 1), -1);
    if (archs < opt_.test_size + 2.0)
        throw Error(ErrorKind::InvalidArgument, std::string(src_.pool() ? "the replay pool" : "the space") + " holds " +
                                                    fmt(archs) + " architectures: too few for the test set (" +
                                                    std::to_string(opt_.test_size) + ") and 2 training samples");
    for (size_t k = 0; k < opt_.bases.size(); ++k) {
        const auto& base = opt_.bases[k];
        const std::string which = "LoopOptions::bases[" + std::to_string(k) + "]";
        if (!base) throw Error(ErrorKind::InvalidArgument, which + " is a null predictor");
        if (!(base->space() == space_))
            throw Error(ErrorKind::InvalidArgument, which + ", a base predictor, is for " +
                                                        space_difference(base->space(), space_) + " (the loop's)");
        if (base->model().log_target)
            throw Error(ErrorKind::InvalidArgument, which + ", a base predictor, regresses log latency; calibration needs "
                                                            "one that regresses latency (esm::calibrate_predictor)");
    }
    settings_ = settings_of(space_, opt_);  // hashes every base's file body: once, not per iteration
    open_outputs();
    LoopResult res;
    res.predictor_path = dir_ + "/predictor.esm";
    res.dataset_path = dir_ + "/dataset.csv";
    res.report_path = dir_ + "/report.json";
    res.plot_paths = {dir_ + "/plots/scatter.svg", dir_ + "/plots/bins.svg", dir_ + "/plots/curve.svg"};
    const IterationReport* prev = nullptr;
    for (int it = 0;; ++it) {
        plan_iteration(it, prev);
        IterationReport rep;
        const double measure_s = measure_iteration(it);
        Predictor* pred = nullptr;
        LoopProgress p;
        p.phase = "train";
        p.iteration = it;
        report(p);
        rep = train_and_evaluate(it, &pred);
        rep.measure_seconds = measure_s;
        pred->save(res.predictor_path);
        // Stop or extend. The budget counts the samples planned up to this iteration: a resumed
        // run's plans.csv holds later iterations too, which replay as planned.
        const int planned = static_cast<int>(
            std::count_if(plans_.begin(), plans_.end(), [&](const Planned& p) { return p.iteration <= it; }));
        std::exception_ptr plan_error;
        bool planned_before = false;  // the next iteration was planned by an earlier run
        // The budgets stop new planning only: an iteration an earlier run planned replays
        // whatever this run's budget (a lower one dropped the later iterations from the report
        // and put an earlier predictor in place of the last).
        const bool budget_applies = planned_count(it + 1) == 0;
        if (rep.passed) {
            res.converged = true;
            res.stop_reason = std::string(opt_.binwise ? "every bin" : "overall accuracy") + " >= " + fmt(opt_.acc_th) + " %";
        } else if (budget_applies && opt_.max_iterations > 0 && it + 1 >= opt_.max_iterations) {
            res.stop_reason = "budget: " + std::to_string(opt_.max_iterations) + " iterations" +
                              (it + 1 > opt_.max_iterations ? " (" + std::to_string(it + 1) +
                                                                  " planned by an earlier run, replayed)"
                                                            : "");
        } else if (budget_applies && opt_.max_samples > 0 && planned >= opt_.max_samples) {
            res.stop_reason = "budget: " + std::to_string(opt_.max_samples) + " samples" +
                              (planned > opt_.max_samples ? " (" + std::to_string(planned) +
                                                                " planned by an earlier run, replayed)"
                                                          : "");
        } else if (budget_applies && opt_.max_seconds > 0 && seconds_since(t0_) >= opt_.max_seconds) {
            res.stop_reason = "budget: " + fmt(opt_.max_seconds) + " s";
        } else if (src_.pool() && planned >= static_cast<int>(src_.pool()->size())) {
            res.stop_reason = "the replay pool is used up";
        }
        if (res.stop_reason.empty()) {
            std::vector<double> acc;
            for (const auto& m : rep.metrics.bins) acc.push_back(m.n ? m.accuracy : NAN);
            rep.asked_per_bin = opt_.strategy == Strategy::Balanced
                                    ? extension_per_bin(acc, opt_.acc_th, opt_.n_step, opt_.w1, opt_.w2)
                                    : std::vector<int>();
            // The next iteration is planned now: when nothing can be added, the run ends here
            // (instead of retraining on the same samples until a budget). A planning error
            // comes after this iteration's reports are written.
            try {
                planned_before = planned_count(it + 1) > 0;
                const int next = plan_iteration(it + 1, &rep);
                rep.added_per_bin.assign(static_cast<size_t>(opt_.n_bins), 0);
                for (const auto& pl : plans_)
                    if (pl.iteration == it + 1 && !pl.test)
                        ++rep.added_per_bin[bin_of(pl.arch)];
                if (next == 0)
                    res.stop_reason =
                        std::accumulate(rep.asked_per_bin.begin(), rep.asked_per_bin.end(), 0) == 0 &&
                                opt_.strategy == Strategy::Balanced
                            ? "the extension plans no sample (w1 = " + fmt(opt_.w1) + ", w2 = " + fmt(opt_.w2) + ")"
                            : std::string(src_.pool() ? "the replay pool" : "the space") +
                                  " holds no unplanned architecture where the extension asks for them";
            } catch (...) {
                plan_error = std::current_exception();
            }
        }
        res.iterations.push_back(rep);
        prev = &res.iterations.back();
        write_reports(res, test_.latency, predict_all(*pred, test_));  // the scatter: this iteration's test set
        p.phase = "evaluated";
        p.message = "iteration " + std::to_string(it) + ": " + std::to_string(rep.train_samples) + " train, accuracy " +
                    format_accuracy(rep.metrics.overall.accuracy, opt_.acc_th) + " %, worst bin " +
                    format_accuracy(rep.metrics.worst_bin_accuracy(), opt_.acc_th) + " %" + (rep.passed ? " (passed)" : "") +
                    (rep.dropped ? ", " + std::to_string(rep.dropped) + " dropped as outliers so far" : "") +
                    (rep.model == "network" ? "" : ", " + rep.model) +
                    (rep.drift.hi > rep.drift.lo ? ", drift factors " + fmt(rep.drift.lo) + ".." + fmt(rep.drift.hi) : "") +
                    (planned_before ? "" : short_bins(rep)) +  // (replayed plans: asked under the settings of then)
                    untested_note(it);
        report(p);
        if (plan_error) std::rethrow_exception(plan_error);
        if (!res.stop_reason.empty()) break;
    }
    LoopProgress done;
    done.phase = "done";
    done.message = res.stop_reason;
    report(done);
    return res;
}

}  // namespace

LoopResult run_esm_loop(const Space& space, const LoopOptions& opt, LatencySource& source,
                        const std::function<void(const LoopProgress&)>& progress) {
    return Loop(space, opt, source, progress).run();
}

}  // namespace esm
