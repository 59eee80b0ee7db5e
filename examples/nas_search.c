/* Evolutionary architecture search with the libesm C API, as in Once-for-All's search:
 * a population evolves by mutation and crossover; candidates over a latency budget
 * (judged by a predictor file) are rejected; the objective (MACs by default, a capacity
 * proxy, or params) is maximised. Prints the best architectures and the throughput.
 *
 *   nas_search PREDICTOR.esm BUDGET_MS [--objective macs|params] [--generations N] [--seed X]
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <esm/esm.h>

enum { POPULATION = 100, PARENTS = 25, MUTANTS = 50, TOP = 5 };

typedef struct {
    esm_arch_t arch;
    double latency_ms;
    double score;
} candidate;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_score(const void* a, const void* b) {
    const candidate* x = (const candidate*)a;
    const candidate* y = (const candidate*)b;
    return (x->score < y->score) - (x->score > y->score); /* descending */
}

static int die(const char* what) {
    fprintf(stderr, "nas_search: %s: %s\n", what, esm_last_error());
    return 1;
}

static int usage(const char* why) {
    fprintf(stderr, "nas_search: %s\nusage: nas_search PREDICTOR.esm BUDGET_MS [--objective macs|params] "
                    "[--generations N] [--seed X]\n", why);
    return 2;
}

/* The architecture's canonical text in a buffer of the size it needs (a custom space's
 * texts can be long); the caller frees it. NULL (said on stderr) on failure. */
static char* arch_text(esm_arch_t a) {
    size_t needed = 0;
    char* buf = NULL;
    if (esm_arch_print(a, NULL, 0, &needed) != ESM_ERR_BUFFER_TOO_SMALL) {
        die("printing an architecture");
        return NULL;
    }
    if (!(buf = (char*)malloc(needed))) {
        fprintf(stderr, "nas_search: out of memory\n");
        return NULL;
    }
    if (esm_arch_print(a, buf, needed, NULL) != ESM_OK) {
        die("printing an architecture");
        free(buf);
        return NULL;
    }
    return buf;
}

/* Scores n candidates: predicted latencies in one batch, then the objective of those
 * within the budget (infeasible ones score -1). */
static int evaluate(esm_predictor_t pred, candidate* c, int n, double budget, int use_params) {
    esm_arch_t archs[POPULATION];
    float ms[POPULATION];
    int i;
    for (i = 0; i < n; ++i) archs[i] = c[i].arch;
    if (esm_predictor_predict_batch(pred, archs, (size_t)n, ms) != ESM_OK) return -1;
    for (i = 0; i < n; ++i) {
        int64_t v = 0;
        c[i].latency_ms = ms[i];
        c[i].score = -1;
        if (ms[i] > budget) continue;
        if ((use_params ? esm_arch_params(c[i].arch, &v) : esm_arch_macs(c[i].arch, 1, 0, &v)) != ESM_OK) return -1;
        c[i].score = (double)v;
    }
    return 0;
}

int main(int argc, char** argv) {
    esm_predictor_t pred = NULL;
    esm_space_t space = NULL;
    esm_sampler_t sampler = NULL;
    candidate pop[POPULATION], next[POPULATION];
    double budget, t0, dt;
    long evaluated = 0;
    int generations = 200, use_params = 0, i, g, n;
    unsigned long long seed = 1;
    char *text = NULL, *last = NULL, *end = NULL;

    if (argc < 3) return usage("a predictor file and a latency budget are needed");
    budget = strtod(argv[2], &end);
    if (*end || end == argv[2] || !(budget > 0) || budget > 1e12) return usage("BUDGET_MS must be a number of milliseconds in (0, 1e12]");
    for (i = 3; i < argc; i += 2) {
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--objective") != 0 && strcmp(argv[i], "--generations") != 0 && strcmp(argv[i], "--seed") != 0)
            return usage("unknown option");
        if (!v) return usage("an option lacks its value");
        if (strcmp(argv[i], "--objective") == 0) {
            if (strcmp(v, "macs") != 0 && strcmp(v, "params") != 0) return usage("--objective is macs or params");
            use_params = strcmp(v, "params") == 0;
        } else if (strcmp(argv[i], "--generations") == 0) {
            long n_gen = strtol(v, &end, 10);
            if (*end || end == v || n_gen < 0 || n_gen > 1000000) return usage("--generations must be 0..1000000");
            generations = (int)n_gen;
        } else {
            errno = 0;
            seed = strtoull(v, &end, 10);
            if (*end || end == v || *v < '0' || *v > '9' || errno == ERANGE) return usage("--seed must be a 64-bit unsigned integer");
        }
    }
    srand((unsigned)seed); /* the parents' draw */
    /* One core: the predictor's small matrices gain nothing from OpenBLAS's thread pool. */
    if (esm_set_blas_threads(1) != ESM_OK) return die("BLAS threads");
    if (esm_predictor_load(argv[1], &pred) != ESM_OK) return die("loading the predictor");
    if (esm_predictor_space(pred, &space) != ESM_OK) return die("its space");
    if (esm_sampler_create(space, seed, &sampler) != ESM_OK) return die("sampler");

    t0 = now_s();
    for (i = 0; i < POPULATION; ++i)
        if (esm_sampler_random(sampler, &pop[i].arch) != ESM_OK) return die("sampling");
    if (evaluate(pred, pop, POPULATION, budget, use_params) != 0) return die("evaluating");
    evaluated += POPULATION;
    for (g = 0; g < generations; ++g) {
        qsort(pop, POPULATION, sizeof pop[0], by_score);
        for (i = 0; i < PARENTS; ++i) next[i] = pop[i]; /* elites survive */
        for (i = PARENTS; i < POPULATION; ++i) esm_arch_free(pop[i].arch);
        for (n = PARENTS; n < POPULATION; ++n) {
            const candidate* a = &next[rand() % PARENTS];
            if (n < PARENTS + MUTANTS) {
                if (esm_sampler_mutate(sampler, a->arch, 0.1, &next[n].arch) != ESM_OK) return die("mutation");
            } else {
                const candidate* b = &next[rand() % PARENTS];
                if (esm_sampler_crossover(sampler, a->arch, b->arch, &next[n].arch) != ESM_OK) return die("crossover");
            }
        }
        if (evaluate(pred, next + PARENTS, POPULATION - PARENTS, budget, use_params) != 0) return die("evaluating");
        evaluated += POPULATION - PARENTS;
        memcpy(pop, next, sizeof pop);
    }
    dt = now_s() - t0;
    qsort(pop, POPULATION, sizeof pop[0], by_score);
    printf("best architectures under %.3f ms (objective: %s):\n", budget, use_params ? "params" : "MACs");
    for (i = 0, n = 0; i < POPULATION && n < TOP && pop[i].score >= 0; ++i) {
        if (!(text = arch_text(pop[i].arch))) return 1;
        if (last && strcmp(text, last) == 0) { /* elites can appear more than once */
            free(text);
            continue;
        }
        printf("  %8.3f ms  %12.0f  %s\n", pop[i].latency_ms, pop[i].score, text);
        free(last);
        last = text;
        ++n;
    }
    free(last);
    if (pop[0].score < 0) printf("  none: no candidate met the budget\n");
    printf("evaluated %ld candidates in %.2f s: %.0f candidates per second\n", evaluated, dt, (double)evaluated / dt);
    for (i = 0; i < POPULATION; ++i) esm_arch_free(pop[i].arch);
    esm_sampler_free(sampler);
    esm_space_free(space);
    esm_predictor_free(pred);
    return 0;
}
