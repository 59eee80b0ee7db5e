// Reading latency CSVs, seeded splits and the encode -> train -> evaluate path.
// The MLP itself is in mlp.cpp; metrics in metrics.cpp.
#include "esm/train.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "esm/rng.hpp"
#include "sealed_file.hpp"

namespace esm {


std::vector<int> LatencyData::depths() const {
    std::vector<int> d;
    d.reserve(archs.size());
    for (const auto& a : archs) d.push_back(a.depth());
    return d;
}

LatencyData LatencyData::subset(const std::vector<size_t>& rows) const {
    LatencyData s;
    s.meta = meta;
    s.target = target;
    s.source = source;
    s.drift = drift;
    for (size_t r : rows) {
        s.archs.push_back(archs[r]);
        s.latency.push_back(latency[r]);
    }
    return s;
}

std::vector<std::string> numeric_columns(const Table& t) {
    std::vector<std::string> out;
    for (size_t c = 0; c < t.columns.size(); ++c) {
        bool ok = !t.rows.empty();
        for (size_t r = 0; r < t.rows.size() && ok; ++r) {
            try {  // what Table::number reads (decimal only), so a column listed here reads
                t.number(r, static_cast<int>(c));
            } catch (const Error&) {
                ok = false;
            }
        }
        if (ok) out.push_back(t.columns[c]);
    }
    return out;
}

LatencyData read_latency_data(const std::string& path, const Space& space, const std::string& target,
                              bool drift_correction) {
    return latency_data_from_table(read_table(path), space, target, drift_correction);
}

LatencyData latency_data_from_table(const Table& t, const Space& space, const std::string& target,
                                    bool drift_correction) {
    const std::string& path = t.source;
    Space measured;
    if (header_space(t.meta, path, &measured) && measured != space)
        throw Error(ErrorKind::InvalidArgument, path + ": the dataset was measured in " +
                                                    space_difference(measured, space) + " (the space in use)");
    LatencyData d;
    d.source = path;
    // The header goes into predictors, whose lines hold no tab or line break: a tab in a
    // comment of a hand-made CSV becomes a space instead of failing the save after training.
    d.meta = t.meta;
    for (auto& kv : d.meta)
        for (std::string* s : {&kv.first, &kv.second})
            for (char& c : *s)
                if (c == '\t' || c == '\r') c = ' ';
    const int ac = t.require_column("arch");
    std::string col = target;
    if (col.empty()) {
        if (t.column("latency_ms") >= 0) {
            col = "latency_ms";
        } else {
            std::string list;
            for (const auto& c : numeric_columns(t)) list += (list.empty() ? "" : ", ") + c;
            throw Error(ErrorKind::InvalidArgument, path + ": no column 'latency_ms'; choose a target column with --target (numeric columns: " +
                                                        (list.empty() ? std::string("none") : list) + ")");
        }
    }
    const int tc = t.require_column(col);
    const int kind = t.column("kind");  // libesm datasets: reference re-measurements are not samples
    d.target = col;
    DriftFactors drift;
    if (drift_correction && kind >= 0) {
        std::vector<DatasetRow> rows(t.rows.size());
        for (size_t r = 0; r < t.rows.size(); ++r) {
            rows[r].kind = t.rows[r][static_cast<size_t>(kind)];
            if (rows[r].kind != "ref") continue;
            rows[r].arch = t.rows[r][static_cast<size_t>(ac)];
            rows[r].stats.latency_ms = t.number(r, tc);
            // A reading the correction uses is held to the range of a sample's (a writer
            // never writes another): drift_factors would skip a reading of 0 or below,
            // splitting its re-measurement in two, and one of 1e-300 would only show as a
            // sample "corrected" out of range, on another line.
            if (!latency_in_range(rows[r].stats.latency_ms))
                throw Error(ErrorKind::InvalidArgument,
                            path + ":" + std::to_string(t.row_lines[r]) + ": reference latency '" + col + "' is " +
                                t.rows[r][static_cast<size_t>(tc)] + " (outside " + kLatencyRangeText +
                                "; drift correction reads the 'ref' rows: fix the row or turn drift correction off)");
        }
        drift = drift_factors(rows);
        d.drift = drift.range;
    }
    d.archs.reserve(t.rows.size());
    d.latency.reserve(t.rows.size());
    for (size_t r = 0; r < t.rows.size(); ++r) {
        if (kind >= 0) {
            const std::string& k = t.rows[r][static_cast<size_t>(kind)];
            if (!known_row_kind(k))
                throw Error(ErrorKind::Format, path + ":" + std::to_string(t.row_lines[r]) + ": kind '" + k +
                                                   "' is none of " + kRowKindsText + " (docs/dataset_format.md)");
            if (k != "sample") continue;
        }
        Arch a;
        std::string err;
        if (!try_parse_arch(space, t.rows[r][static_cast<size_t>(ac)], &a, &err))
            throw Error(ErrorKind::Parse, path + ":" + std::to_string(t.row_lines[r]) + ": " + err);
        const double y = t.number(r, tc);
        if (!latency_in_range(y))
            throw Error(ErrorKind::InvalidArgument, path + ":" + std::to_string(t.row_lines[r]) + ": latency '" + col +
                                                        "' is " + t.rows[r][static_cast<size_t>(tc)] +
                                                        (y > 0 || t.rows[r][static_cast<size_t>(tc)].find_first_of("eE") !=
                                                                      std::string::npos
                                                             ? std::string(" (outside ") + kLatencyRangeText + ")"
                                                             : std::string(" (must be > 0)")));
        const double v = drift.factor.empty() ? y : y / drift.factor[r];
        if (!latency_in_range(v))
            throw Error(ErrorKind::Format, path + ":" + std::to_string(t.row_lines[r]) +
                                               ": drift correction by the reference rows gives latency " + detail::short_number(v) +
                                               " (their readings are implausible; check the 'ref' rows or turn drift correction off)");
        d.archs.push_back(std::move(a));
        d.latency.push_back(v);
    }
    if (d.archs.empty()) throw Error(ErrorKind::InvalidArgument, path + ": no data rows");
    return d;
}

void split_data(const LatencyData& all, size_t n_test, uint64_t seed, LatencyData* train, LatencyData* test) {
    if (n_test >= all.size())
        throw Error(ErrorKind::InvalidArgument, "split: test size " + std::to_string(n_test) + " leaves no training rows out of " +
                                                    std::to_string(all.size()));
    std::vector<size_t> perm(all.size());
    std::iota(perm.begin(), perm.end(), size_t{0});
    Rng rng(seed);
    for (size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
    *test = all.subset(std::vector<size_t>(perm.begin(), perm.begin() + static_cast<long>(n_test)));
    *train = all.subset(std::vector<size_t>(perm.begin() + static_cast<long>(n_test), perm.end()));
}

// The predictor file's training line holds no tab or line break (docs/predictor_format.md).
static std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    return s;
}

// The rows encoded, x: (n, enc.length()), and their latencies y: (n), for train_mlp.
static void encode_rows(const Encoder& enc, const LatencyData& rows, std::vector<float>* x, std::vector<float>* y) {
    x->resize(rows.size() * static_cast<size_t>(enc.length()));
    enc.encode_batch(rows.archs.data(), rows.size(), x->data());
    y->assign(rows.latency.begin(), rows.latency.end());
}

Predictor train_predictor(const Space& space, const LatencyData& train, const TrainConfig& cfg, TrainReport* report) {
    Encoder enc(space, cfg.encoding, cfg.res);
    std::vector<float> x, y;
    encode_rows(enc, train, &x, &y);
    TrainReport rep;
    MlpOptions opt = cfg.mlp;
    MlpModel model;
    if (cfg.weight_decay_grid.empty()) {
        model = train_mlp(x.data(), y.data(), train.size(), enc.length(), opt, &rep);
    } else {
        if (!(opt.val_frac > 0))
            throw Error(ErrorKind::InvalidArgument, "train: a weight-decay grid needs a validation split (val_frac > 0)");
        bool first = true;
        for (double wd : cfg.weight_decay_grid) {
            MlpOptions o = cfg.mlp;
            o.weight_decay = wd;
            TrainReport r;
            MlpModel m = train_mlp(x.data(), y.data(), train.size(), enc.length(), o, &r);
            if (first || r.best_val_loss < rep.best_val_loss) {
                model = std::move(m);
                rep = std::move(r);
                opt = o;
            }
            first = false;
        }
    }
    Predictor p(space, cfg.encoding, std::move(model), cfg.res);
    p.target = train.target.empty() ? "latency_ms" : train.target;
    p.n_bins = cfg.n_bins;
    p.dataset_meta = train.meta;
    std::string hidden;
    for (int h : cfg.mlp.hidden) hidden += (hidden.empty() ? "" : "x") + std::to_string(h);
    const auto num = detail::short_number;
    p.training = "n_train=" + std::to_string(train.size()) + " hidden=" + hidden + " lr=" + num(cfg.mlp.lr) +
                 " weight_decay=" + num(opt.weight_decay) +
                 (cfg.weight_decay_grid.empty() ? "" : " (best on validation of a grid)") + " epochs=" + std::to_string(cfg.mlp.epochs) +
                 " min_steps=" + std::to_string(cfg.mlp.min_steps) +
                 " epochs_run=" + std::to_string(rep.epochs_run) + " best_epoch=" + std::to_string(rep.best_epoch + 1) +
                 " batch=" + std::to_string(cfg.mlp.batch_size) + " val_frac=" + num(cfg.mlp.val_frac) +
                 " patience=" + std::to_string(cfg.mlp.patience) +
                 " schedule=" + (cfg.mlp.schedule == LrSchedule::Cosine ? "cosine" : "constant") +
                 " log_target=" + (cfg.mlp.log_target ? "1" : "0") + " linear_skip=" + (cfg.mlp.linear_skip ? "1" : "0") +
                 " relative_loss=" + (cfg.mlp.relative_loss ? "1" : "0") + " seed=" + std::to_string(cfg.mlp.seed) +
                 " source=" + detail::resolved_path(train.source);
    p.training = one_line(p.training);
    if (report) *report = std::move(rep);
    return p;
}

namespace {

// latency = a * p + b by least squares with weights 1 / y^2 (relative errors), leaving out
// row `skip` (none when >= p.size()). False when it cannot, with the reason in *why.
bool fit_calibration(const std::vector<double>& p, const std::vector<double>& y, size_t skip, double* a, double* b,
                     std::string* why) {
    double sw = 0, mp = 0, my = 0;  // centred for accuracy
    for (size_t i = 0; i < p.size(); ++i) {
        if (i == skip) continue;
        const double w = 1 / (y[i] * y[i]);
        sw += w;
        mp += w * p[i];
        my += w * y[i];
    }
    mp /= sw;
    my /= sw;
    double spp = 0, spy = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        if (i == skip) continue;
        const double w = 1 / (y[i] * y[i]);
        spp += w * (p[i] - mp) * (p[i] - mp);
        spy += w * (p[i] - mp) * (y[i] - my);
    }
    if (!(spp > 1e-12 * sw * mp * mp)) {
        *why = "the base predictor gives the same latency for all " + std::to_string(p.size() - (skip < p.size())) +
               " rows; nothing to fit a slope on";
        return false;
    }
    *a = spy / spp;
    *b = my - *a * mp;
    if (!(*a > 0)) {
        char slope[32];  // %g: std::to_string wrote a slope of latencies in ns as -0.000000
        std::snprintf(slope, sizeof slope, "%g", *a);
        *why = "the rows' latencies do not rise with the base predictor's (fitted slope " + std::string(slope) +
               "); too few rows, or another kind of device";
        return false;
    }
    return true;
}

// `what`: why that many rows ("" for the calibration's own two); `which`: the base among
// several ("" for one).
void check_base(const Predictor& base, size_t rows, size_t need, const std::string& what = "",
                const std::string& which = "") {
    if (rows < need)
        throw Error(ErrorKind::InvalidArgument, "calibrate: need at least " + std::to_string(need) + " rows" + what +
                                                    ", got " + std::to_string(rows));
    if (base.model().log_target)
        throw Error(ErrorKind::InvalidArgument, "calibrate: the base predictor" + which +
                                                    " regresses log latency; a linear map of its latency is not a "
                                                    "predictor of the same kind (train the base without a log target)");
}

}  // namespace

Predictor calibrate_predictor(const Predictor& base, const LatencyData& train, double* a_out, double* b_out) {
    check_base(base, train.size(), 2);
    MlpModel m = base.model();
    double a = 0, b = 0;
    std::string why;
    if (!fit_calibration(predict_all(base, train), train.latency, train.size(), &a, &b, &why))
        throw Error(ErrorKind::InvalidArgument, "calibrate: " + why);
    // a * (y_mean + skip . z + y_std * net(z)) + b
    m.y_mean = a * m.y_mean + b;
    m.y_std *= a;
    for (float& v : m.skip) v = static_cast<float>(a * v);
    Predictor out(base.space(), base.encoding(), std::move(m), base.encoder().res_encoding());
    out.target = train.target.empty() ? "latency_ms" : train.target;
    out.n_bins = base.n_bins;
    out.dataset_meta = train.meta;
    char line[160];
    detail::CNumbers c;
    std::snprintf(line, sizeof line, "calibrated: latency = %.9g * base + %.9g, n_train=%zu", a, b, train.size());
    // The base's column too: its own line names only its dataset (HELP's file holds 12 devices').
    out.training = one_line(std::string(line) + " base_target=" + base.target + " source=" +
                            detail::resolved_path(train.source) + " base: " + base.training);
    if (a_out) *a_out = a;
    if (b_out) *b_out = b;
    return out;
}

MlpOptions fine_tune_options(MlpOptions opt) {
    opt.lr = 3e-4;
    opt.min_steps = 3000;
    opt.epochs = 1;
    return opt;
}

Predictor fine_tune_predictor(const Predictor& start, const LatencyData& train, MlpOptions opt, TrainReport* report) {
    const Encoder& enc = start.encoder();
    std::vector<float> x, y;
    encode_rows(enc, train, &x, &y);
    opt.init = std::make_shared<const MlpModel>(start.model());
    opt.log_target = start.model().log_target;
    TrainReport rep;
    Predictor out(start.space(), start.encoding(), train_mlp(x.data(), y.data(), train.size(), enc.length(), opt, &rep),
                  enc.res_encoding());
    out.target = train.target.empty() ? "latency_ms" : train.target;
    out.n_bins = start.n_bins;
    out.dataset_meta = train.meta;
    char line[200];
    detail::CNumbers c;
    std::snprintf(line, sizeof line, "fine-tuned: n_train=%zu lr=%g min_steps=%ld epochs=%d batch=%d val_frac=%g "
                  "relative_loss=%d seed=%llu correction_ridge=%g epochs_run=%d best_epoch=%d",
                  train.size(), opt.lr, opt.min_steps, opt.epochs, opt.batch_size, opt.val_frac, opt.relative_loss ? 1 : 0,
                  static_cast<unsigned long long>(opt.seed), rep.skip_ridge, rep.epochs_run, rep.best_epoch + 1);
    out.training = one_line(std::string(line) + " source=" + detail::resolved_path(train.source) + " from: " + start.training);
    if (report) *report = std::move(rep);
    return out;
}

size_t pick_base(const std::vector<const Predictor*>& bases, const LatencyData& rows, double* loo_error) {
    if (bases.empty()) throw Error(ErrorKind::InvalidArgument, "calibrate: no base predictor given");
    size_t best = bases.size();
    double best_err = 0;
    std::string why;
    for (size_t k = 0; k < bases.size(); ++k) {
        check_base(*bases[k], rows.size(), 3,
                   " to pick one of " + std::to_string(bases.size()) + " bases (leave-one-out: a fit on the others)",
                   " " + std::to_string(k + 1) + " of " + std::to_string(bases.size()));
        const std::vector<double> p = predict_all(*bases[k], rows);
        double err = 0, a = 0, b = 0;
        for (size_t j = 0; j < rows.size() && std::isfinite(err); ++j)
            err = fit_calibration(p, rows.latency, j, &a, &b, &why) ? err + std::fabs((a * p[j] + b) / rows.latency[j] - 1)
                                                                   : INFINITY;
        err /= static_cast<double>(rows.size());
        if (std::isfinite(err) && (best == bases.size() || err < best_err)) {
            best = k;
            best_err = err;
        }
    }
    if (best == bases.size())
        throw Error(ErrorKind::InvalidArgument, "calibrate: no base predictor fits these " + std::to_string(rows.size()) +
                                                    " rows (the last: " + why + ")");
    if (loo_error) *loo_error = best_err;
    return best;
}

std::vector<double> predict_all(const Predictor& p, const LatencyData& data) {
    std::vector<float> f(data.size());
    p.predict_batch(data.archs.data(), data.size(), f.data());
    return std::vector<double>(f.begin(), f.end());
}

MetricsReport evaluate_predictor(const Predictor& p, const LatencyData& data, int n_bins) {
    return evaluate(p.space(), data.depths(), data.latency, predict_all(p, data), n_bins);
}

}  // namespace esm
