// The C API (include/esm/esm.h) over the C++ core: handles own C++ objects, every entry
// point catches everything and turns it into a status and a thread-local message.
#include "esm/esm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "decimal.hpp"
#include "esm/common.hpp"
#include "esm/dataset.hpp"
#include "esm/executor.hpp"
#include "esm/measure.hpp"
#include "esm/plan.hpp"
#include "esm/predictor.hpp"
#include "esm/sample.hpp"
#include "esm/train.hpp"

struct esm_space {
    std::shared_ptr<const esm::Space> s;
};
struct esm_arch {
    std::shared_ptr<const esm::Space> space;
    esm::Arch a;
};
struct esm_sampler {
    std::shared_ptr<const esm::Space> space;
    esm::Sampler sm;
};
struct esm_predictor {
    esm::Predictor p;
    std::shared_ptr<const esm::Space> space;
};
struct esm_executor {
    std::unique_ptr<esm::Executor> ex;
};
struct esm_dataset {
    std::shared_ptr<const esm::Space> space;
    std::unique_ptr<esm::DatasetWriter> w;
};

namespace {

thread_local std::string g_last_error;

// Records "fn: what" as this thread's last error and returns st. Never throws (nothing may
// escape into C): with no memory left for the message, the last error is "out of memory".
esm_status fail(esm_status st, const char* fn, const char* what) noexcept {
    try {
        g_last_error.assign(fn).append(": ").append(what);
    } catch (...) {
        g_last_error = "out of memory";  // fits any string's capacity: no allocation
    }
    return st;
}

// The same with a message built by the caller: only inside guard(), which catches the
// allocation failures of building it.
esm_status fail(esm_status st, const std::string& msg) {
    g_last_error = msg;
    return st;
}

esm_status status_of(esm::ErrorKind k) {
    switch (k) {
        case esm::ErrorKind::InvalidArgument: return ESM_ERR_INVALID_ARGUMENT;
        case esm::ErrorKind::Parse: return ESM_ERR_PARSE;
        case esm::ErrorKind::Io: return ESM_ERR_IO;
        case esm::ErrorKind::Format: return ESM_ERR_FORMAT;
        case esm::ErrorKind::Unsupported: return ESM_ERR_UNSUPPORTED;
        case esm::ErrorKind::Internal: return ESM_ERR_INTERNAL;
    }
    return ESM_ERR_INTERNAL;
}

// Runs f, mapping every exception to a status; nothing escapes into C.
template <class F>
esm_status guard(const char* fn, F&& f) {
    // Files and messages in the "C" locale's numbers whatever locale the calling program set
    // (setlocale(LC_ALL, "") under de_DE: "12,5"), on this thread for this call.
    esm::detail::CNumbers c_numbers;
    try {
        return f();
    } catch (const esm::Error& e) {
        return fail(status_of(e.kind()), fn, e.what());
    } catch (const std::bad_alloc&) {
        return fail(ESM_ERR_INTERNAL, fn, "out of memory");
    } catch (const std::exception& e) {
        return fail(ESM_ERR_INTERNAL, fn, e.what());
    } catch (...) {
        return fail(ESM_ERR_INTERNAL, fn, "unknown exception");
    }
}

#define ESM_NEED(p) \
    if (!(p)) return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "argument '" #p "' is NULL")

esm_status new_arch(const std::shared_ptr<const esm::Space>& space, esm::Arch a, esm_arch_t* out) {
    *out = new esm_arch{space, std::move(a)};
    return ESM_OK;
}

// An arch of another space is refused (same pointer, or an equal description).
bool same_space(const std::shared_ptr<const esm::Space>& a, const std::shared_ptr<const esm::Space>& b) {
    return a == b || *a == *b;
}

// Measured rows for calibration: every arch of `space`, every latency finite and > 0.
esm_status measured_rows(const char* fn, const std::shared_ptr<const esm::Space>& space, const esm_arch_t* archs,
                         const double* latencies_ms, size_t n, esm::LatencyData* rows) {
    for (size_t i = 0; i < n; ++i) {
        const std::string at = std::string(fn) + ": archs[" + std::to_string(i) + "]";
        if (!archs[i]) return fail(ESM_ERR_INVALID_ARGUMENT, at + " is NULL");
        if (!same_space(space, archs[i]->space)) return fail(ESM_ERR_INVALID_ARGUMENT, at + " is of another space");
        if (!esm::latency_in_range(latencies_ms[i])) {
            char value[32];
            std::snprintf(value, sizeof value, "%g", latencies_ms[i]);
            return fail(ESM_ERR_INVALID_ARGUMENT, std::string(fn) + ": latencies_ms[" + std::to_string(i) + "] is " +
                                                      value + ", not a latency in " + esm::kLatencyRangeText);
        }
        rows->archs.push_back(archs[i]->a);
        rows->latency.push_back(latencies_ms[i]);
    }
    rows->target = "latency_ms";
    return ESM_OK;
}

// calibrate and fine_tune after their NULL checks: the measured rows, then the predictor
// make(from's predictor, rows) returns, of from's space, into *out.
template <class Make>
esm_status predictor_from_rows(const char* fn, esm_predictor_t from, const esm_arch_t* archs, const double* latencies_ms,
                               size_t n, esm_predictor_t* out, Make make) {
    return guard(fn, [&] {
        esm::LatencyData rows;
        if (esm_status st = measured_rows(fn, from->space, archs, latencies_ms, n, &rows)) return st;
        *out = new esm_predictor{make(from->p, rows), from->space};
        return ESM_OK;
    });
}

}  // namespace

extern "C" {

const char* esm_status_string(esm_status s) {
    switch (s) {
        case ESM_OK: return "ESM_OK: success";
        case ESM_ERR_INVALID_ARGUMENT: return "ESM_ERR_INVALID_ARGUMENT: invalid argument";
        case ESM_ERR_PARSE: return "ESM_ERR_PARSE: malformed architecture text";
        case ESM_ERR_IO: return "ESM_ERR_IO: file cannot be read or written";
        case ESM_ERR_FORMAT: return "ESM_ERR_FORMAT: corrupt or incompatible file";
        case ESM_ERR_UNSUPPORTED: return "ESM_ERR_UNSUPPORTED: not supported by this build or machine";
        case ESM_ERR_BUFFER_TOO_SMALL: return "ESM_ERR_BUFFER_TOO_SMALL: output buffer too small";
        case ESM_ERR_INTERNAL: return "ESM_ERR_INTERNAL: internal error";
    }
    return "ESM_ERR_UNKNOWN: not an esm_status";
}

// The version is written twice: project(esm VERSION ...) in CMakeLists.txt, which the build
// passes as ESM_VERSION, and include/esm/common.hpp, which programs see. A bump of one alone
// stops the build here instead of shipping a library that names two versions.
#define ESM_STR_(x) #x
#define ESM_STR(x) ESM_STR_(x)
namespace {
constexpr bool same_string(const char* a, const char* b) {
    return *a == *b && (*a == '\0' || same_string(a + 1, b + 1));
}
}  // namespace
static_assert(same_string(ESM_VERSION, ESM_VERSION_STRING),
              "project(esm VERSION) in CMakeLists.txt and ESM_VERSION_STRING in include/esm/common.hpp differ");
static_assert(same_string(ESM_STR(ESM_VERSION_MAJOR) "." ESM_STR(ESM_VERSION_MINOR) "." ESM_STR(ESM_VERSION_PATCH),
                          ESM_VERSION_STRING),
              "ESM_VERSION_MAJOR/MINOR/PATCH and ESM_VERSION_STRING in include/esm/common.hpp differ");

const char* esm_last_error(void) { return g_last_error.c_str(); }
const char* esm_version(void) { return esm::version(); }

esm_status esm_space_load(const char* preset_or_path, esm_space_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(preset_or_path);
    return guard(__func__, [&] {
        *out = new esm_space{std::make_shared<const esm::Space>(esm::load_space(preset_or_path))};
        return ESM_OK;
    });
}

esm_status esm_space_parse(const char* text, esm_space_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(text);
    return guard(__func__, [&] {
        *out = new esm_space{std::make_shared<const esm::Space>(esm::parse_space(text))};
        return ESM_OK;
    });
}

void esm_space_free(esm_space_t space) { delete space; }

esm_status esm_space_get_info(esm_space_t space, esm_space_info* out) {
    ESM_NEED(space);
    ESM_NEED(out);
    return guard(__func__, [&] {
        const esm::Space& s = *space->s;
        out->name = s.name.c_str();
        out->family = esm::family_name(s.family);
        out->units = static_cast<int>(s.units.size());
        out->min_depth = s.min_depth();
        out->max_depth = s.max_depth();
        out->resolutions = static_cast<int>(s.resolutions.size());
        out->default_resolution = s.default_resolution();
        out->size_log10 = s.size_log10();
        return ESM_OK;
    });
}

esm_status esm_space_bin(esm_space_t space, int depth, int n_bins, int* out_bin) {
    ESM_NEED(space);
    ESM_NEED(out_bin);
    return guard(__func__, [&] {
        *out_bin = space->s->bin_of(depth, n_bins);
        return ESM_OK;
    });
}

esm_status esm_arch_parse(esm_space_t space, const char* text, esm_arch_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(space);
    ESM_NEED(text);
    return guard(__func__, [&] { return new_arch(space->s, esm::parse_arch(*space->s, text), out); });
}

void esm_arch_free(esm_arch_t arch) { delete arch; }

esm_status esm_arch_print(esm_arch_t arch, char* buf, size_t cap, size_t* needed) {
    ESM_NEED(arch);
    return guard(__func__, [&] {
        const std::string t = esm::format_arch(*arch->space, arch->a);
        if (needed) *needed = t.size() + 1;
        if (!buf || cap < t.size() + 1)
            return fail(ESM_ERR_BUFFER_TOO_SMALL, "esm_arch_print: needs " + std::to_string(t.size() + 1) + " bytes, got " +
                                                      std::to_string(buf ? cap : 0));
        std::memcpy(buf, t.c_str(), t.size() + 1);
        return ESM_OK;
    });
}

esm_status esm_arch_depth(esm_arch_t arch, int* out_depth) {
    ESM_NEED(arch);
    ESM_NEED(out_depth);
    *out_depth = arch->a.depth();
    return ESM_OK;
}

esm_status esm_arch_resolution(esm_arch_t arch, int* out_res) {
    ESM_NEED(arch);
    ESM_NEED(out_res);
    *out_res = arch->a.res;
    return ESM_OK;
}

esm_status esm_arch_params(esm_arch_t arch, int64_t* out_params) {
    ESM_NEED(arch);
    ESM_NEED(out_params);
    return guard(__func__, [&] {
        *out_params = esm::build_plan(*arch->space, arch->a).params();
        return ESM_OK;
    });
}

esm_status esm_arch_macs(esm_arch_t arch, int batch, int res, int64_t* out_macs) {
    ESM_NEED(arch);
    ESM_NEED(out_macs);
    return guard(__func__, [&] {
        *out_macs = esm::build_plan(*arch->space, arch->a, batch, res).macs();
        return ESM_OK;
    });
}

esm_status esm_sampler_create(esm_space_t space, uint64_t seed, esm_sampler_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(space);
    return guard(__func__, [&] {
        *out = new esm_sampler{space->s, esm::Sampler(*space->s, seed)};
        return ESM_OK;
    });
}

void esm_sampler_free(esm_sampler_t sampler) { delete sampler; }

esm_status esm_sampler_random(esm_sampler_t sampler, esm_arch_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(sampler);
    return guard(__func__, [&] { return new_arch(sampler->space, sampler->sm.random(), out); });
}

esm_status esm_sampler_balanced(esm_sampler_t sampler, int n_bins, esm_arch_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(sampler);
    return guard(__func__, [&] { return new_arch(sampler->space, sampler->sm.balanced(n_bins), out); });
}

esm_status esm_sampler_mutate(esm_sampler_t sampler, esm_arch_t parent, double prob, esm_arch_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(sampler);
    ESM_NEED(parent);
    if (!(prob >= 0 && prob <= 1)) return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "prob must be in [0, 1]");
    if (!same_space(sampler->space, parent->space))
        return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "the parent is of another space");
    return guard(__func__, [&] { return new_arch(sampler->space, sampler->sm.mutate(parent->a, prob), out); });
}

esm_status esm_sampler_crossover(esm_sampler_t sampler, esm_arch_t a, esm_arch_t b, esm_arch_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(sampler);
    ESM_NEED(a);
    ESM_NEED(b);
    if (!same_space(sampler->space, a->space) || !same_space(sampler->space, b->space))
        return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "a parent is of another space");
    return guard(__func__, [&] { return new_arch(sampler->space, sampler->sm.crossover(a->a, b->a), out); });
}

esm_status esm_predictor_load(const char* path, esm_predictor_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(path);
    return guard(__func__, [&] {
        esm::Predictor p = esm::Predictor::load(path);
        auto space = std::make_shared<const esm::Space>(p.space());
        *out = new esm_predictor{std::move(p), std::move(space)};
        return ESM_OK;
    });
}

void esm_predictor_free(esm_predictor_t predictor) { delete predictor; }

esm_status esm_predictor_space(esm_predictor_t predictor, esm_space_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(predictor);
    return guard(__func__, [&] {
        *out = new esm_space{predictor->space};
        return ESM_OK;
    });
}

esm_status esm_predictor_predict(esm_predictor_t predictor, esm_arch_t arch, double* out_ms) {
    ESM_NEED(predictor);
    ESM_NEED(arch);
    ESM_NEED(out_ms);
    return guard(__func__, [&] {
        if (!same_space(predictor->space, arch->space))
            return fail(ESM_ERR_INVALID_ARGUMENT, "esm_predictor_predict: the architecture is of space '" +
                                                      arch->space->name + "', the predictor of '" + predictor->space->name + "'");
        *out_ms = predictor->p.predict(arch->a);
        return ESM_OK;
    });
}

esm_status esm_predictor_predict_text(esm_predictor_t predictor, const char* text, double* out_ms) {
    ESM_NEED(predictor);
    ESM_NEED(text);
    ESM_NEED(out_ms);
    return guard(__func__, [&] {
        *out_ms = predictor->p.predict(esm::parse_arch(*predictor->space, text));
        return ESM_OK;
    });
}

esm_status esm_predictor_predict_batch(esm_predictor_t predictor, const esm_arch_t* archs, size_t n, float* out_ms) {
    ESM_NEED(predictor);
    if (n == 0) return ESM_OK;
    ESM_NEED(archs);
    ESM_NEED(out_ms);
    return guard(__func__, [&] {
        // The handles' archs by pointer, a chunk at a time (copying the archs first cost a
        // heap allocation per unit of every arch and halved the throughput).
        constexpr size_t kChunk = 1024;
        const esm::Arch* chunk[kChunk];
        for (size_t i = 0; i < n; i += kChunk) {
            const size_t m = std::min(kChunk, n - i);
            for (size_t j = i; j < i + m; ++j) {
                if (!archs[j]) return fail(ESM_ERR_INVALID_ARGUMENT, "esm_predictor_predict_batch: archs[" + std::to_string(j) + "] is NULL");
                if (!same_space(predictor->space, archs[j]->space))
                    return fail(ESM_ERR_INVALID_ARGUMENT, "esm_predictor_predict_batch: archs[" + std::to_string(j) + "] is of another space");
                chunk[j - i] = &archs[j]->a;
            }
            predictor->p.predict_batch(chunk, m, out_ms + i);
        }
        return ESM_OK;
    });
}

esm_status esm_predictor_save(esm_predictor_t predictor, const char* path) {
    ESM_NEED(predictor);
    ESM_NEED(path);
    return guard(__func__, [&] {
        predictor->p.save(path);
        return ESM_OK;
    });
}

esm_status esm_predictor_calibrate(esm_predictor_t base, const esm_arch_t* archs, const double* latencies_ms, size_t n,
                                   esm_predictor_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(base);
    ESM_NEED(archs);
    ESM_NEED(latencies_ms);
    return predictor_from_rows(__func__, base, archs, latencies_ms, n, out,
                               [](const esm::Predictor& p, const esm::LatencyData& rows) { return esm::calibrate_predictor(p, rows); });
}

esm_status esm_predictor_fine_tune(esm_predictor_t start, const esm_arch_t* archs, const double* latencies_ms, size_t n,
                                   esm_predictor_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(start);
    ESM_NEED(archs);
    ESM_NEED(latencies_ms);
    return predictor_from_rows(__func__, start, archs, latencies_ms, n, out, [](const esm::Predictor& p, const esm::LatencyData& rows) {
        return esm::fine_tune_predictor(p, rows, esm::fine_tune_options());
    });
}

esm_status esm_predictor_pick_base(const esm_predictor_t* bases, size_t n_bases, const esm_arch_t* archs,
                                   const double* latencies_ms, size_t n, size_t* out_index, double* out_loo_error) {
    ESM_NEED(bases);
    ESM_NEED(archs);
    ESM_NEED(latencies_ms);
    ESM_NEED(out_index);
    if (n_bases == 0) return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "n_bases is 0");
    return guard(__func__, [&] {
        std::vector<const esm::Predictor*> v;
        for (size_t k = 0; k < n_bases; ++k) {
            if (!bases[k]) return fail(ESM_ERR_INVALID_ARGUMENT, "esm_predictor_pick_base: bases[" + std::to_string(k) + "] is NULL");
            if (!same_space(bases[0]->space, bases[k]->space))
                return fail(ESM_ERR_INVALID_ARGUMENT, "esm_predictor_pick_base: bases[" + std::to_string(k) +
                                                          "] predicts another space than bases[0]");
            v.push_back(&bases[k]->p);
        }
        esm::LatencyData rows;
        if (esm_status st = measured_rows("esm_predictor_pick_base", bases[0]->space, archs, latencies_ms, n, &rows)) return st;
        double loo = 0;
        *out_index = esm::pick_base(v, rows, &loo);
        if (out_loo_error) *out_loo_error = loo;
        return ESM_OK;
    });
}

esm_status esm_set_blas_threads(int n) {
    return guard(__func__, [&] {
        if (n < 1 || n > 1024)
            return fail(ESM_ERR_INVALID_ARGUMENT, "esm_set_blas_threads: n must be 1..1024, got " + std::to_string(n));
        esm::set_blas_threads(n);
        return ESM_OK;
    });
}

esm_executor_options esm_executor_default_options(void) {
    esm_executor_options o;
    o.device = 0;
    o.threads = 1;
    o.batch = 1;
    o.res = 0;
    o.seed = 1;
    o.tf32 = 0;
    return o;
}

esm_status esm_executor_create(esm_arch_t arch, const esm_executor_options* options, esm_executor_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(arch);
    const esm_executor_options o = options ? *options : esm_executor_default_options();
    if (o.device != 0 && o.device != 1) return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "device must be 0 (CPU) or 1 (CUDA)");
    if (o.threads < 1) return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "threads must be >= 1");
    return guard(__func__, [&] {
        esm::ExecutorOptions eo;
        eo.backend = o.device == 1 ? esm::Backend::Cuda : esm::Backend::Cpu;
        eo.threads = o.threads;
        eo.seed = o.seed;
        eo.tf32 = o.tf32 != 0;
        const esm::Plan plan = esm::build_plan(*arch->space, arch->a, o.batch, o.res);
        auto ex = esm::Executor::create(plan, eo);
        const std::vector<float> x = esm::make_input(plan, o.seed);
        std::copy(x.begin(), x.end(), ex->input().data);
        *out = new esm_executor{std::move(ex)};
        return ESM_OK;
    });
}

void esm_executor_free(esm_executor_t executor) { delete executor; }

esm_status esm_executor_run(esm_executor_t executor) {
    ESM_NEED(executor);
    return guard(__func__, [&] {
        executor->ex->run();  // never throws; a backend records its error instead
        const std::string error = executor->ex->last_error();
        if (!error.empty()) throw esm::Error(esm::ErrorKind::Internal, "the forward pass failed: " + error);
        return ESM_OK;
    });
}

esm_status esm_executor_checksum(esm_executor_t executor, double* out_sum) {
    ESM_NEED(executor);
    ESM_NEED(out_sum);
    return guard(__func__, [&] {
        const esm::TensorView y = executor->ex->output();
        double sum = 0;
        for (int64_t i = 0; i < y.size(); ++i) sum += y.data[i];  // contiguous whole-network output
        *out_sum = sum;
        return ESM_OK;
    });
}

esm_status esm_executor_measure(esm_executor_t executor, int warmup, int runs, esm_measurement* out) {
    ESM_NEED(executor);
    ESM_NEED(out);
    return guard(__func__, [&] {
        esm::MeasureProtocol p;
        p.warmup = warmup;
        p.runs = runs;
        p.validate();
        const esm::LatencyStats st = esm::measure_latency(esm::executor_timer(*executor->ex), p);
        out->latency_ms = st.latency_ms;
        out->std_ms = st.std_ms;
        out->runs = st.runs;
        return ESM_OK;
    });
}

esm_status esm_dataset_open(const char* path, esm_space_t space, const char* device, const char* backend,
                            esm_dataset_t* out) {
    ESM_NEED(out);
    *out = nullptr;
    ESM_NEED(path);
    ESM_NEED(space);
    ESM_NEED(device);
    ESM_NEED(backend);
    return guard(__func__, [&] {
        esm::DatasetMeta meta = {{"format", esm::kDatasetFormat},
                                 {"library_version", esm::version()},
                                 {"device", device},
                                 {"backend", backend}};
        for (auto& kv : esm::space_meta(*space->s)) meta.push_back(std::move(kv));
        *out = new esm_dataset{space->s, std::make_unique<esm::DatasetWriter>(path, meta)};
        return ESM_OK;
    });
}

void esm_dataset_free(esm_dataset_t dataset) { delete dataset; }

esm_status esm_dataset_append(esm_dataset_t dataset, esm_arch_t arch, const esm_measurement* m) {
    ESM_NEED(dataset);
    ESM_NEED(arch);
    ESM_NEED(m);
    if (!same_space(dataset->space, arch->space))
        return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "the architecture is of another space");
    return guard(__func__, [&] {
        esm::DatasetRow r;
        r.arch = esm::format_arch(*arch->space, arch->a);
        r.depth = arch->a.depth();
        r.stats = {m->latency_ms, m->std_ms, m->runs};
        dataset->w->append(r);
        return ESM_OK;
    });
}

esm_status esm_dataset_contains(esm_dataset_t dataset, esm_arch_t arch, int* out_bool) {
    ESM_NEED(dataset);
    ESM_NEED(arch);
    ESM_NEED(out_bool);
    if (!same_space(dataset->space, arch->space))
        return fail(ESM_ERR_INVALID_ARGUMENT, __func__, "the architecture is of another space");
    return guard(__func__, [&] {
        *out_bool = dataset->w->has_sample(esm::format_arch(*arch->space, arch->a)) ? 1 : 0;
        return ESM_OK;
    });
}

}  // extern "C"
