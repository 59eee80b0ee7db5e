/* libesm C API: the one header a C program needs (C99, no C++ types).
 * Opaque handles, esm_<object>_<verb> names, every call returns an esm_status and gives
 * results through its last out-parameter; esm_*_free(NULL) is a no-op; no exception
 * crosses this API and it never prints. Messages: esm_last_error() (thread-local). A call
 * that fails sets a handle it would have created (*out) to NULL; other outputs are then
 * undefined (a failing batch may have written some of its results). */
#ifndef ESM_ESM_H
#define ESM_ESM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum esm_status {
    ESM_OK = 0,
    ESM_ERR_INVALID_ARGUMENT = 1, /* NULL where a value is needed, out-of-range option */
    ESM_ERR_PARSE = 2,            /* malformed architecture text */
    ESM_ERR_IO = 3,               /* a file cannot be read or written */
    ESM_ERR_FORMAT = 4,           /* a corrupt or incompatible file (space, dataset, predictor) */
    ESM_ERR_UNSUPPORTED = 5,      /* e.g. CUDA asked for in a build or machine without it */
    ESM_ERR_BUFFER_TOO_SMALL = 6, /* an output buffer is too small; the size needed is returned */
    ESM_ERR_INTERNAL = 7          /* a bug or out of memory */
} esm_status;

/* Static text of a status ("ESM_ERR_PARSE: malformed architecture text"). */
const char* esm_status_string(esm_status status);
/* The message of the last failing call on this thread ("" if none); valid until the
 * next failing call on this thread. */
const char* esm_last_error(void);
/* The library version, "MAJOR.MINOR.PATCH". */
const char* esm_version(void);

/* ---- spaces ------------------------------------------------------------------------ */
typedef struct esm_space* esm_space_t;

/* A preset ("resnet", "mobilenetv3", "densenet", "ofa-mbv3") or a description file path.
 * The caller owns *out and frees it with esm_space_free. */
esm_status esm_space_load(const char* preset_or_path, esm_space_t* out);
/* From description text (docs/space_format.md); a malformed one is ESM_ERR_FORMAT, with
 * esm_last_error() naming the line. The caller owns *out. */
esm_status esm_space_parse(const char* text, esm_space_t* out);
void esm_space_free(esm_space_t space);

typedef struct esm_space_info {
    const char* name;   /* owned by the space handle */
    const char* family; /* "resnet" | "mobilenetv3" | "densenet" */
    int units;
    int min_depth, max_depth; /* total blocks (DenseNet: layers) */
    int resolutions;          /* 1 = fixed */
    int default_resolution;
    double size_log10;        /* log10 of the number of architectures */
} esm_space_info;
esm_status esm_space_get_info(esm_space_t space, esm_space_info* out);
/* Depth bin (SPEC §4) of a depth among n_bins equal bins of the space's depth range. */
esm_status esm_space_bin(esm_space_t space, int depth, int n_bins, int* out_bin);

/* ---- architectures ------------------------------------------------------------------- */
typedef struct esm_arch* esm_arch_t;

/* Strict parse of canonical text; on ESM_ERR_PARSE esm_last_error() names the column.
 * The arch keeps its own copy of the space. The caller owns *out (esm_arch_free). */
esm_status esm_arch_parse(esm_space_t space, const char* text, esm_arch_t* out);
void esm_arch_free(esm_arch_t arch);
/* Canonical text into buf (cap bytes, NUL-terminated); *needed (may be NULL) receives
 * the size needed including the NUL, also with ESM_ERR_BUFFER_TOO_SMALL. */
esm_status esm_arch_print(esm_arch_t arch, char* buf, size_t cap, size_t* needed);
esm_status esm_arch_depth(esm_arch_t arch, int* out_depth);
/* Resolution of the architecture (the space's fixed one, or its elastic choice). */
esm_status esm_arch_resolution(esm_arch_t arch, int* out_res);
/* Params and MACs (SPEC §2.4) of the network plan; batch 1..4096, res 8..4096 or 0 = the
 * arch's. A count past 64 bits (absurd widths and resolutions) is ESM_ERR_INVALID_ARGUMENT. */
esm_status esm_arch_params(esm_arch_t arch, int64_t* out_params);
esm_status esm_arch_macs(esm_arch_t arch, int batch, int res, int64_t* out_macs);

/* ---- sampling and search moves ----------------------------------------------------- */
typedef struct esm_sampler* esm_sampler_t;

/* Seeded with the library's own RNG: identical results on every platform. The caller
 * owns *out (esm_sampler_free). */
esm_status esm_sampler_create(esm_space_t space, uint64_t seed, esm_sampler_t* out);
void esm_sampler_free(esm_sampler_t sampler);
/* Each unit's depth and each choice uniform. The caller owns *out. */
esm_status esm_sampler_random(esm_sampler_t sampler, esm_arch_t* out);
/* A depth bin uniform over n_bins, then a depth vector uniform in the bin. Caller owns *out. */
esm_status esm_sampler_balanced(esm_sampler_t sampler, int n_bins, esm_arch_t* out);
/* Once-for-All style mutation: each unit's depth and each block's choices (and the
 * resolution) are redrawn with probability prob. The caller owns *out. */
esm_status esm_sampler_mutate(esm_sampler_t sampler, esm_arch_t parent, double prob, esm_arch_t* out);
/* Uniform crossover: each unit's depth and each block's choices from either parent.
 * Both parents must be of the sampler's space. The caller owns *out. */
esm_status esm_sampler_crossover(esm_sampler_t sampler, esm_arch_t a, esm_arch_t b, esm_arch_t* out);

/* ---- predictors -------------------------------------------------------------------- */
typedef struct esm_predictor* esm_predictor_t;

/* Loads a predictor file (esm-train / esm-build); a truncated, corrupt, wrong-version
 * file gives ESM_ERR_FORMAT naming what is wrong. The caller owns *out. */
esm_status esm_predictor_load(const char* path, esm_predictor_t* out);
void esm_predictor_free(esm_predictor_t predictor);
/* A new handle to the predictor's space. The caller owns *out (esm_space_free). */
esm_status esm_predictor_space(esm_predictor_t predictor, esm_space_t* out);
/* Predicted latency in ms of an architecture of the predictor's space. */
esm_status esm_predictor_predict(esm_predictor_t predictor, esm_arch_t arch, double* out_ms);
esm_status esm_predictor_predict_text(esm_predictor_t predictor, const char* text, double* out_ms);
/* out_ms: (n) predictions of archs: (n), batched (fastest for many candidates). Every arch
 * must be of the predictor's space (else ESM_ERR_INVALID_ARGUMENT naming its index). */
esm_status esm_predictor_predict_batch(esm_predictor_t predictor, const esm_arch_t* archs, size_t n, float* out_ms);
/* Writes the predictor file atomically (a crash leaves the old file or the new one). A path
 * naming a device, FIFO or socket (e.g. /dev/null) is refused with ESM_ERR_IO. */
esm_status esm_predictor_save(esm_predictor_t predictor, const char* path);
/* A new device from a few measured architectures (HELP's setting): a new predictor giving
 * a * base(arch) + b, with (a, b) fitted to latencies_ms[i] of archs[i], i < n (n >= 2,
 * latencies in 1e-9 .. 1e12 ms), by least squares on relative errors. Fails with ESM_ERR_INVALID_ARGUMENT
 * when the latencies do not rise with the base's predictions. The caller owns *out. */
esm_status esm_predictor_calibrate(esm_predictor_t base, const esm_arch_t* archs, const double* latencies_ms, size_t n,
                                   esm_predictor_t* out);
/* Transfer with more measurements (tens to a few hundred): start's network trained further
 * on latencies_ms[i] of archs[i], i < n (n >= 2, latencies in 1e-9 .. 1e12 ms), keeping start's input and
 * output scaling, after a linear correction when the rows outnumber the encoding's features;
 * start is usually esm_predictor_calibrate's result (esm-train --base P
 * --fine-tune). The library's defaults: 3,000 Adam steps at learning rate 3e-4, 10 % of the
 * rows validate and the best epoch is kept (start itself counts), seed 1. Deterministic.
 * The caller owns *out. */
esm_status esm_predictor_fine_tune(esm_predictor_t start, const esm_arch_t* archs, const double* latencies_ms, size_t n,
                                   esm_predictor_t* out);
/* Of n_bases predictors of the same space, the index of the one whose calibration predicts
 * the measured architectures best in leave-one-out (n >= 3); its mean relative error to
 * *out_loo_error when that is not NULL. */
esm_status esm_predictor_pick_base(const esm_predictor_t* bases, size_t n_bases, const esm_arch_t* archs,
                                   const double* latencies_ms, size_t n, size_t* out_index, double* out_loo_error);
/* OpenBLAS threads for prediction and training in this process, 1..1024 (OpenBLAS's own
 * default is every core). The MLP's matrices are small: 1 is fastest, and keeps a search
 * on one core. A no-op in a build without OpenBLAS. Process-wide, and every CPU executor
 * run sets it to 1: not while another thread's executor runs (docs/api.md, "Threads"). */
esm_status esm_set_blas_threads(int n);

/* ---- executors and measurement ------------------------------------------------------ */
typedef struct esm_executor* esm_executor_t;

typedef struct esm_executor_options {
    int device;    /* 0 = CPU, 1 = CUDA (ESM_ERR_UNSUPPORTED without CUDA or a GPU) */
    int threads;   /* CPU threads, 1..1024 and at most max(8, 4 x the hardware threads) */
    int batch;     /* 1..4096 */
    int res;       /* input resolution, 8..4096; 0 = the architecture's */
    uint64_t seed; /* weights and input */
    int tf32;      /* CUDA: allow TF32 math (0 = off, the default) */
} esm_executor_options;

/* The defaults: CPU, 1 thread, batch 1, the arch's resolution, seed 1, TF32 off. */
esm_executor_options esm_executor_default_options(void);
/* Builds, allocates and packs everything for one architecture. The caller owns *out. */
esm_status esm_executor_create(esm_arch_t arch, const esm_executor_options* options, esm_executor_t* out);
void esm_executor_free(esm_executor_t executor);
/* One forward pass; allocates nothing. On CUDA it queues the pass on the executor's stream:
 * a failure during it is reported by the next call that waits for it (esm_executor_checksum,
 * esm_executor_measure). */
esm_status esm_executor_run(esm_executor_t executor);
/* Checksum (sum of the outputs) of the last run, to check it against another framework;
 * meaningful after esm_executor_run. */
esm_status esm_executor_checksum(esm_executor_t executor, double* out_sum);

typedef struct esm_measurement {
    double latency_ms; /* mean of the middle runs (SPEC §5) */
    double std_ms;     /* their standard deviation */
    int runs;          /* runs kept */
} esm_measurement;
/* warmup untimed passes (0 .. 1,000,000), then runs timed ones (1 .. 1,000,000; others are
 * ESM_ERR_INVALID_ARGUMENT); the middle 60 % (trim 0.2) are kept. */
esm_status esm_executor_measure(esm_executor_t executor, int warmup, int runs, esm_measurement* out);

/* ---- datasets ----------------------------------------------------------------------- */
typedef struct esm_dataset* esm_dataset_t;

/* Opens (creating or resuming) a libesm dataset CSV for latencies measured by the caller
 * on `device` (free text, recorded in the header) with `backend` (e.g. "tflite"). A file
 * made for another space, device or backend is refused untouched (ESM_ERR_FORMAT); one
 * open for writing elsewhere (another process, another open handle) is refused with
 * ESM_ERR_IO until that one is freed. The caller owns *out. */
esm_status esm_dataset_open(const char* path, esm_space_t space, const char* device, const char* backend,
                            esm_dataset_t* out);
void esm_dataset_free(esm_dataset_t dataset);
/* Appends one measured sample; it is on disk (fsync) when this returns. A latency outside
 * 1e-9 .. 1e12 ms, a std outside 0 .. 1e12 ms (NaN included), or runs outside 1 .. 2^30:
 * ESM_ERR_INVALID_ARGUMENT (what a resume could not read back). */
esm_status esm_dataset_append(esm_dataset_t dataset, esm_arch_t arch, const esm_measurement* m);
/* Whether the dataset already holds a sample of this architecture (to resume). */
esm_status esm_dataset_contains(esm_dataset_t dataset, esm_arch_t arch, int* out_bool);

#ifdef __cplusplus
}
#endif

#endif /* ESM_ESM_H */
