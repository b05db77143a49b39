/* nnrt_data.h — datasets for the training driver: IDX (MNIST-style) and CSV loaders and input
 * standardization.
 *
 * Loaders validate their files completely (magic numbers, types, dimension counts, lengths,
 * trailing bytes, every CSV field) and never trust a size from a header before the data behind it
 * has arrived, so a malformed, truncated or lying file yields a message, never a crash or a huge
 * allocation. Every failure sets nnrt_last_error() to "PATH: what is wrong" (CSV: "PATH:LINE: ...")
 * and returns -1, leaving the dataset empty. Files may be gzip-compressed (detected by content).
 * With a cache folder set (nnrt_dataset_set_cache), gzip IDX files are inflated once and read
 * from the cache afterwards.
 * Needs zlib; generated model code never includes this header.
 */
#ifndef NNRT_DATA_H
#define NNRT_DATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nnrt_dataset {
  long n;             /* examples */
  int dim;            /* input values per example: the product of shape */
  int rank;           /* rank of the per-example input shape (1 for CSV) */
  int shape[4];       /* per-example input shape, e.g. {28, 28} for an IDX file of 28x28 images */
  float *x;           /* CSV: n * dim inputs, one example after another; NULL for IDX */
  unsigned char *pixels; /* IDX: the n * dim bytes as loaded (a quarter of the floats' memory);
                            each becomes pixel_value[byte] in nnrt_dataset_inputs(); NULL for CSV */
  float pixel_value[256]; /* IDX: byte / 255, standardized by nnrt_dataset_standardize() */
  int32_t *labels;    /* n class ids (classification), or NULL */
  int n_classes_seen; /* 1 + the largest label; 0 without labels */
  float *targets;     /* n * target_dim real targets (regression), or NULL */
  int target_dim;     /* floats per example of the target; 0 for labels */
  void *mapping;      /* IDX from the cache: the mapped cache file that pixels points into */
  size_t mapping_len;
} nnrt_dataset;

/* Loads an IDX image file (unsigned bytes, 2 to 4 dimensions: count, then the example's shape;
 * kept as bytes, read as pixels scaled to [0, 1] by /255 as torchvision's ToTensor does) and its IDX label file
 * (unsigned bytes, 1 dimension, same count). limit > 0 keeps only the first `limit` examples (the
 * rest of the files is still validated); 0 keeps all. */
int nnrt_dataset_load_idx(nnrt_dataset *ds, const char *images_path, const char *labels_path,
                          long limit);

/* Loads a CSV file: per row either a class id then the input (target_dim == 0), or target_dim
 * targets then the input. Fields are separated by commas; spaces around fields, CR LF line ends
 * and blank lines are allowed; a first line whose first field is not a number is a header and is
 * skipped. Every row must have as many fields as the first. limit > 0 stops after `limit` rows. */
int nnrt_dataset_load_csv(nnrt_dataset *ds, const char *path, int target_dim, long limit);

/* Where nnrt_dataset_load_idx() keeps the inflated bytes of gzip IDX files, to skip inflating
 * them next time: dir, or with dir NULL the default, $NNC_CACHE_DIR, else $XDG_CACHE_HOME/nnc,
 * else $HOME/.cache/nnc (no cache when none is set); "" turns the cache off, as it is until this
 * is called. A folder that cannot be made or written means no cache, never an error. */
void nnrt_dataset_set_cache(const char *dir);
const char *nnrt_dataset_cache_dir(void); /* the folder in use, "" for none */

void nnrt_dataset_free(nnrt_dataset *ds); /* frees the arrays and zeroes *ds; NULL-safe */

/* Writes examples first .. first + count - 1 (index == NULL), or index[first] ..
 * index[first + count - 1], as floats into out (count * dim values): the CSV values, or the pixels
 * scaled (and standardized) as pixel_value says. The training driver converts one batch at a time. */
void nnrt_dataset_inputs(const nnrt_dataset *ds, const long *index, long first, int count, float *out);

/* One global mean and standard deviation over every input value of ds (computed in double; a
 * constant or empty input gives std 1 so that standardizing is harmless). */
void nnrt_dataset_stats(const nnrt_dataset *ds, float *mean, float *std);

/* Every input value becomes (value - mean) * (1 / std), in float; the caller passes the training
 * set's statistics for the test set too. CSV values change in place; IDX pixels keep their bytes
 * and change pixel_value, so nnrt_dataset_inputs() gives the same floats either way. */
void nnrt_dataset_standardize(nnrt_dataset *ds, float mean, float std);

#ifdef __cplusplus
}
#endif
#endif
