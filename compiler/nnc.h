/* nnc.h — the one internal header of the nnc compiler, a section per .c file.
 *
 * The pipeline (main.c): read source → lex + parse (grammar/nn.re, grammar/nn.y, parse.c) → AST →
 * lower.c (blocks inlined, repeats expanded, shapes checked by shape.c as nodes are made) → Graph →
 * grad.c (backward nodes appended) → plan.c (storage) → emit.c (C99). Every phase reports user errors
 * through Diag and keeps going where it can; the driver stops after a phase that reported any.
 * All memory of one run belongs to the Compilation's Arena.
 */
#ifndef NNC_H
#define NNC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NNC_VERSION "0.1.0"

#if defined(__GNUC__)
#define NN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define NN_NORETURN __attribute__((noreturn))
#else
#define NN_PRINTF(f, a)
#define NN_NORETURN
#endif

/* Internal bugs, never user errors: print where and abort. */
NN_NORETURN void nn_die_at(const char *file, int line, const char *fmt, ...) NN_PRINTF(3, 4);
#define nn_die(...) nn_die_at(__FILE__, __LINE__, __VA_ARGS__)
#define nn_unreachable() nn_die_at(__FILE__, __LINE__, "unreachable")

/* ============================== arena.c ============================== */
typedef struct ArenaChunk ArenaChunk;
typedef struct Arena {
  ArenaChunk *head; /* newest chunk first */
} Arena;

void *arena_alloc(Arena *a, size_t bytes);          /* zeroed; dies only if malloc fails */
void *arena_realloc(Arena *a, void *old, size_t old_bytes, size_t new_bytes);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) NN_PRINTF(2, 3);
void arena_free(Arena *a);
/* Stack discipline: arena_release(a, m) frees everything allocated since m = arena_mark(a). */
typedef struct ArenaMark { ArenaChunk *head; size_t used; } ArenaMark;
ArenaMark arena_mark(const Arena *a);
void arena_release(Arena *a, ArenaMark m);

/* A growable array in an arena: ARRAY_PUSH(arena, items, n, cap) */
#define ARRAY_GROW(arena, items, n, cap)                                                   \
  do {                                                                                     \
    if ((n) >= (cap)) {                                                                    \
      int new_cap_ = (cap) ? 2 * (cap) : 16;                                               \
      (items) = arena_realloc((arena), (items), sizeof(*(items)) * (size_t)(cap),          \
                              sizeof(*(items)) * (size_t)new_cap_);                        \
      (cap) = new_cap_;                                                                    \
    }                                                                                      \
  } while (0)

/* ============================== diag.c ============================== */
typedef uint32_t SrcLoc; /* byte offset into the source; the column is computed when reported */
#define NO_LOC UINT32_MAX

typedef struct Diag {
  const char *file;  /* name shown in messages */
  const char *src;   /* the source, NUL-terminated */
  size_t len;        /* bytes of src */
  FILE *out;         /* where messages go (stderr, or a memstream in tests) */
  int n_errors;
  int n_warnings;
  int max_errors;    /* stop printing after this many (0: 50) */
  bool no_warnings;  /* after syntax errors, whose consequences a warning could be */
  bool werror;       /* -Werror: warnings are reported and counted as errors */
  const SrcLoc *call_stack; /* block call sites in force, for "in block ... called here" notes */
  int n_call_stack;
} Diag;

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...) NN_PRINTF(3, 4);
void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...) NN_PRINTF(3, 4);
void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...) NN_PRINTF(3, 4);
void diag_line_col(const Diag *d, SrcLoc loc, int *line, int *col);

/* ============================== lex (grammar/nn.re) ============================== */
typedef struct Token {
  int kind;          /* TK_* from the Lemon-generated nn.h */
  const char *text;  /* into the source */
  int len;
  SrcLoc loc;
} Token;

typedef struct Lexer {
  const char *src;   /* NUL-terminated; a NUL before end is an error token */
  const char *cur;
  const char *end;
  int depth;         /* ( and [ nesting: newlines inside do not end statements */
  bool need_sep;     /* a statement is open: emit SEP before '}' or at the end */
  bool pending_close;/* a synthetic SEP was emitted; the '}' comes next */
  bool at_end;
} Lexer;

void lex_init(Lexer *lx, const char *src, size_t len);
Token lex_next(Lexer *lx, Diag *d); /* TK_ERROR tokens are reported here already */
const char *token_name(int kind);  /* "'('", "identifier", "end of line", ... */

/* ============================== AST (parse.c, grammar/nn.y) ============================== */
typedef enum AstKind {
  AST_INT, AST_REAL, AST_BOOL, AST_NAME, AST_CALL, AST_BINARY, AST_NEG,
  AST_KWARG, /* name=value inside a call's argument list */
} AstKind;

typedef struct Ast Ast;
struct Ast {
  AstKind kind;
  SrcLoc loc;        /* the representative token: the operator, the name, the literal */
  const char *name;  /* AST_NAME, AST_CALL (callee), AST_KWARG (keyword) */
  int op;            /* AST_BINARY: '+', '-', '*', '/' */
  Ast *lhs, *rhs;    /* AST_BINARY; AST_NEG and AST_KWARG use lhs */
  Ast *args;         /* AST_CALL: linked through next */
  Ast *next;
  int64_t ival;      /* AST_INT, AST_BOOL */
  double rval;       /* AST_REAL */
};

typedef enum StmtKind {
  ST_MODEL, ST_CONST, ST_INPUT, ST_LABEL, ST_TARGET, ST_ASSIGN, ST_REPEAT, ST_BLOCK,
  ST_RETURN, ST_OUTPUT, ST_LOSS, ST_OPTIMIZER,
  ST_UNKNOWN, /* a broken statement whose kind its first tokens do not tell */
} StmtKind;

typedef struct Stmt Stmt;
typedef struct Ident { const char *name; SrcLoc loc; struct Ident *next; } Ident;
struct Stmt {
  StmtKind kind;
  SrcLoc loc;        /* the keyword or the assigned name */
  const char *name;  /* MODEL, CONST, INPUT, LABEL, TARGET, ASSIGN, BLOCK, OUTPUT */
  SrcLoc name_loc;
  Ast *expr;         /* CONST, ASSIGN, RETURN, LOSS, OPTIMIZER, REPEAT (count), LABEL (classes) */
  Ast *dims;         /* INPUT, TARGET: linked through next */
  Ident *params;     /* BLOCK */
  Stmt *body;        /* REPEAT, BLOCK */
  Stmt *next;
  bool broken;       /* a syntax or lexical error is in it: kind and name are what it began as */
};

typedef struct Program {
  Stmt *stmts;
  bool syntax_ok;    /* no error was reported while parsing */
  bool complete;     /* the parser read to the end (stmts holds every statement, broken or not) */
} Program;

typedef struct Compilation Compilation;
/* Parses the Compilation's source into an AST; syntax errors go to its Diag. */
Program parse_program(Compilation *c);

/* Constructors called from the grammar's actions (one call per action). */
typedef struct ParseCtx ParseCtx;
Ast *ast_int(ParseCtx *p, Token t);
Ast *ast_real(ParseCtx *p, Token t);
Ast *ast_bool(ParseCtx *p, Token t, bool v);
Ast *ast_name(ParseCtx *p, Token t);
Ast *ast_call(ParseCtx *p, Token callee, Ast *args);
Ast *ast_kwarg(ParseCtx *p, Token name, Ast *value);
Ast *ast_binary(ParseCtx *p, Token op, Ast *lhs, Ast *rhs);
Ast *ast_neg(ParseCtx *p, Token op, Ast *operand);
Ast *ast_append(Ast *list, Ast *item);
Stmt *stmt_new(ParseCtx *p, StmtKind kind, Token at);
Stmt *stmt_named(ParseCtx *p, StmtKind kind, Token kw, Token name, Ast *expr);
Stmt *stmt_shape(ParseCtx *p, StmtKind kind, Token kw, Token name, Ast *dims);
Stmt *stmt_repeat(ParseCtx *p, Token kw, Ast *count, Stmt *body);
Stmt *stmt_block(ParseCtx *p, Token kw, Token name, Ident *params, Stmt *body);
Stmt *stmt_expr(ParseCtx *p, StmtKind kind, Token kw, Ast *expr);
Stmt *stmt_append(Stmt *list, Stmt *item);
Stmt *stmt_checked(ParseCtx *p, Stmt *s);
Stmt *stmt_broken(ParseCtx *p);
Ident *ident_append(ParseCtx *p, Ident *list, Token name);
void parse_syntax_error(ParseCtx *p, Token at);
void parse_too_deep(ParseCtx *p);
void parse_done(ParseCtx *p, Stmt *stmts);

/* ============================== IR (ir.c) ============================== */
typedef uint32_t NodeId;
#define NO_NODE UINT32_MAX
#define NN_MAX_IN 5
#define NN_MAX_RANK 5
#define DIM_BATCH (-1) /* the symbolic batch dimension B */

typedef struct Shape {
  int rank;
  int32_t dim[NN_MAX_RANK]; /* DIM_BATCH or a positive size */
} Shape;

typedef enum Op {
#define OP(name, text, arity, kind) OP_##name,
#include "ops.h"
#undef OP
  OP_COUNT
} Op;

typedef enum OpKind { OPK_LEAF, OPK_EW, OPK_VIEW, OPK_COMPLEX } OpKind;

typedef enum InitKind {
  INIT_GLOROT_UNIFORM, INIT_LECUN_NORMAL, INIT_HE_NORMAL, INIT_ZEROS, INIT_ONES, INIT_NORMAL,
} InitKind;

typedef struct Attr {
  double scale;      /* SCALE: c */
  double alpha;      /* ELU alpha, LEAKY_RELU slope, DROPOUT/ALPHA_DROPOUT p */
  double momentum, eps; /* BATCHNORM */
  int kernel, stride, pad; /* CONV2D, pools */
  bool trans_a, trans_b;   /* MATMUL */
  NodeId fwd;        /* backward nodes: the forward node they differentiate */
  int param;         /* PARAM/BUFFER: index into Graph.params */
} Attr;

typedef struct Node {
  Op op;
  int n_in;
  NodeId in[NN_MAX_IN];
  Shape shape;
  SrcLoc loc;        /* representative token; backward nodes inherit their forward node's */
  const char *name;  /* optional: params and named values */
  int layer;         /* summary row (Graph.layers), -1 for none */
  Attr attr;
} Node;

typedef struct Param {
  const char *name;  /* hierarchical: "basic.2/conv2d.1/weight" */
  Shape shape;
  InitKind init;
  double init_std;   /* INIT_NORMAL */
  int fan_in, fan_out;
  bool trainable;    /* false: batchnorm running statistics */
  NodeId node;
  SrcLoc loc;
  size_t offset;     /* elements into the parameter (or buffer) block, set by plan.c */
  size_t size;       /* elements */
} Param;

typedef struct Layer {
  const char *name;  /* "basic.2/conv2d.1" */
  const char *op;    /* "conv2d" */
  SrcLoc loc;
  NodeId out;        /* its output value */
  long long n_params;
  double flops;      /* forward FLOPs per example */
} Layer;

typedef enum OptKind { OPT_SGD, OPT_RMSPROP, OPT_ADAM } OptKind;
typedef struct Optimizer {
  OptKind kind;
  double lr, momentum, weight_decay, rho, eps, beta1, beta2;
  bool nesterov;
  SrcLoc loc;
} Optimizer;

typedef struct Graph {
  Node *nodes; int n_nodes, cap_nodes;
  Param *params; int n_params, cap_params;
  Layer *layers; int n_layers, cap_layers;
  const char *model_name;
  NodeId input, label, target, loss, output;
  int n_classes;       /* label models */
  Optimizer opt;
  int n_forward;       /* nodes [0, n_forward) are the forward graph */
  NodeId *grad_of;     /* after grad.c: gradient node of each forward node, or NO_NODE */
  NodeId *param_grad;  /* after grad.c: per param, the node holding d loss / d param */
} Graph;

NodeId ir_add(Compilation *c, Op op, const NodeId *in, int n_in, Shape shape, SrcLoc loc);
const char *op_name(Op op);
int op_arity(Op op);
OpKind op_kind(Op op);
bool shape_eq(Shape a, Shape b);
int64_t shape_count(Shape s);            /* per-example elements: the product without B */
char *shape_str(Arena *a, Shape s);      /* "[B, 256]" */
Shape shape_make(int rank, const int32_t *dims);
void ir_print(const Graph *g, FILE *out);
bool conv2d_is_pointwise(const Node *conv); /* 1x1, stride 1, no padding: no unfolding needed (emit.c) */
/* Examples a convolution unfolds and multiplies at once, so that each product has at least
 * CONV_GROUP_COLUMNS columns (fewer, larger products: less of BLAS's per-call packing) (emit.c) */
#define CONV_GROUP_COLUMNS 1024
int conv2d_group(const Node *conv);
/* 3x3, stride 1, padding 1: float builds run compiler/kernels/conv3x3.c where the CPU has AVX2+FMA */
bool conv2d_is_3x3_same(const Node *conv);
/* the scratch (elements) of one such call: Ci input planes, Fo output channels (emit.c) */
size_t conv3x3_scratch(int Ci, int H, int W, int Fo);
/* the floats of its packed weights (nnc_c3_packed, or nnc_c3_wpacked for Winograd) */
size_t conv3x3_packed_size(int Ci, int H, int W, int Fo);
bool conv3x3_winograd(int Ci, int H, int W, int Fo); /* that call uses compiler/kernels/winograd.c */
/* a training step of fewer examples takes the direct kernel: the step's transform of the weights
 * (U = G g Gᵀ, in double) costs more than Winograd saves on them (resnet20, spec build: batch 1,
 * 4 and 8 trained 1.2-1.4x faster on the direct kernel, 16 and 24 0.9-1.0x) */
#define CONV3X3_WINOGRAD_MIN_BATCH 16
int conv3x3_weight_group(int C, int H, int W); /* examples per weight-gradient call */
/* a 3x3 convolution (padding 1, stride 1 or 2) whose weight gradient reads x channels last */
bool conv3x3_weight_channels_last(const Graph *g, const Node *conv, bool double_precision);
size_t conv3x3_weight_scratch(int C, int H, int W, int F); /* that call's scratch */
/* compiler/kernels/gemm.c: whether a matmul is a dense layer's forward product x wᵀ with w a
 * parameter, and the floats of w packed for it (nnc_g_packed) */
bool matmul_is_dense_forward(const Graph *g, const Node *matmul);
size_t dense_packed_size(int N, int K);
/* what Storage.packed holds before its flag: a dense product's packed weights, or a convolution's
 * and its 2 F floats of folded batchnorm */
size_t packed_size_of(const Graph *g, const Node *n);
bool ir_verify(const Graph *g, FILE *err); /* false (and a report) on an internal inconsistency */

/* ============================== compilation ============================== */
struct Compilation {
  Arena arena;
  Diag diag;
  const char *path;  /* as given ("-" for stdin) */
  char *src;         /* NUL-terminated */
  size_t len;
  Program program;
  Graph graph;
  int max_nodes;     /* expansion limit (default 100,000: far beyond what a C compiler would take) */
};

void compilation_init(Compilation *c, const char *display_name, const char *src, size_t len, FILE *diag_out);
int compilation_read_file(Compilation *c, const char *path, FILE *diag_out); /* -1 on I/O error (reported) */
void compilation_free(Compilation *c);
/* The front end: parse, lower, check. Returns true when no error was reported. */
bool compile_front(Compilation *c);

/* ============================== lint.c ============================== */
/* Warnings about networks that compile but will not train well (self-normalizing nets' conditions,
 * deep plain ReLU stacks); run by compile_front on the lowered forward graph. */
void lint_graph(Compilation *c);

/* ============================== lower.c ============================== */
typedef enum ValKind { VAL_ERROR, VAL_INT, VAL_REAL, VAL_BOOL, VAL_TENSOR } ValKind;
typedef struct Value {
  ValKind kind;      /* VAL_ERROR: already reported; uses stay silent */
  int64_t i;         /* VAL_INT, VAL_BOOL */
  double r;          /* VAL_REAL */
  NodeId node;       /* VAL_TENSOR */
} Value;

typedef enum CallContext { CTX_VALUE, CTX_LOSS, CTX_OPTIMIZER } CallContext;
typedef struct Lowerer Lowerer;

Value value_error(void);                            /* an error already reported */
Value value_int(int64_t i);
Value value_tensor(NodeId n);
bool lower_program(Compilation *c);                 /* AST → forward Graph, shapes checked */
Value lower_eval(Lowerer *L, Ast *e);
Compilation *lower_compilation(Lowerer *L);
/* Starts a summary row for a call of `op` in the current scope: "basic.2/conv2d.1". */
int lower_begin_layer(Lowerer *L, const char *op, SrcLoc loc);
void lower_end_layer(Lowerer *L, int layer, NodeId first_node, NodeId out);
NodeId lower_add_param(Lowerer *L, int layer, const char *leaf, Shape shape, InitKind init, double std,
                    int fan_in, int fan_out, bool trainable); /* returns the PARAM/BUFFER node */
bool lower_check_size(Lowerer *L, Shape s, SrcLoc loc); /* reports a value too large to compile */

/* ============================== builtin.c ============================== */
bool builtin_exists(const char *name);
Value builtin_call(Lowerer *L, Ast *call, CallContext ctx);
/* The optimizer statement's call: fills g->opt. */
void builtin_optimizer(Lowerer *L, Ast *call);

/* ============================== shape.c ============================== */
double node_flops(const Graph *g, const Node *n);   /* forward FLOPs per example (shape.c) */
void summary_print(const Graph *g, FILE *out);      /* the `nnc check` table */
typedef struct Plan Plan;
void summary_print_memory(const Graph *g, const Plan *p, FILE *out); /* its memory lines (after plan.c) */

/* ============================== grad.c ============================== */
/* Appends the backward graph; false when the model has no loss. */
bool grad_build(Compilation *c);

/* ============================== plan.c ============================== */
/* What a direct 3x3 convolution's kernel computes after the convolution (fuse.c); NO_NODE: absent */
typedef struct ConvFold {
  NodeId bias_add, batchnorm; /* its bias, and in inference the batchnorm after it */
  NodeId residual_add, residual, relu; /* in inference: the batchnorm's relu or add + relu group, and the add's other operand */
  NodeId last;       /* the node whose storage the kernel writes (the last of the above), or NO_NODE */
} ConvFold;

typedef struct Fusion {
  bool *inlined;     /* per node: computed inside the loop of its single user */
  NodeId *root;      /* per node: the node whose loop computes it (itself when not inlined) */
  ConvFold *fold;    /* per conv2d node */
} Fusion;

typedef enum StorageKind {
  STORE_NONE,        /* not computed */
  STORE_USER,        /* the caller's x, y or t */
  STORE_PARAM,       /* m->params + offset */
  STORE_BUFFER,      /* m->buffers + offset */
  STORE_GRAD,        /* m->grads + offset: a parameter's final gradient */
  STORE_BATCHED,     /* m->acts + max_batch * offset */
  STORE_FIXED,       /* m->fixed + offset: unbatched temporaries and scalars */
  STORE_ALIAS,       /* the storage of another node (reshape) */
} StorageKind;

typedef struct Storage {
  StorageKind kind;
  size_t offset;     /* elements; per example for STORE_BATCHED */
  NodeId alias;      /* STORE_ALIAS */
  size_t aux;        /* per-example offset of a second batched buffer (dropout masks), or SIZE_MAX */
  size_t stats;      /* batchnorm: offset in the fixed block of its batch mean, variance, 1/sqrt(var + eps)
                        (training), and the scale and shift that apply it, one per channel each */
  size_t packed;     /* in inference, a dense layer's forward product (float BLAS builds) or a 3x3 "same"
                        convolution (float builds): offset in the fixed block of its weights packed for
                        compiler/kernels/gemm.c, or for conv3x3.c / winograd.c followed by the folded
                        batchnorm's scale and shift, and, after them, the flag that says they are
                        current (packed_size_of); else SIZE_MAX */
} Storage;

struct Plan {
  Storage *store;    /* per node */
  bool *in_train;    /* computed by train_step */
  bool *in_infer;    /* computed by forward (inference) */
  size_t n_params, n_buffers; /* elements */
  size_t batched_per_example, fixed; /* activation arena sizes */
  size_t infer_per_example; /* what infer() alone would need of the arena (reported by nnc check) */
  size_t scratch;    /* elements of the convolutions' shared scratch (im2col, direct kernels), after fixed */
  Fusion fuse_train, fuse_infer; /* fuse.c's groups for train() and infer() */
};

/* Decides which function computes each node, how element-wise nodes fuse, and where every node
 * lives: batched values share the activation arena by liveness. */
/* double_precision: nnc_real is double (the float inputs are copied; no float-only kernels). */
Plan plan_build(Compilation *c, bool double_precision, bool blas);
/* Each parameter's offset into its block (trainable ones in the parameter block, the rest in the
 * buffer block, each in creation order) and the blocks' sizes, in values. */
void plan_param_offsets(Graph *g, size_t *n_params, size_t *n_buffers);

/* ============================== fuse.c ============================== */
/* Fusion groups for one function: in_fn marks its nodes, result is the value it returns. Needs
 * the plan's storage kinds (not its offsets). */
Fusion fuse_plan(Compilation *c, const Plan *p, const bool *in_fn, NodeId result, bool training, bool double_precision);
/* bias_add and batchnorm: at most one a group, its channel layout shapes the group's loop */
bool fuse_per_channel(Op op);

/* ============================== emit.c ============================== */
typedef struct EmitOptions {
  bool blas;         /* cblas_sgemm for matmuls (else plain loops) */
  bool double_precision; /* nn_real = double (gradient checks); implies !blas */
  bool debug_api;    /* also emit NAME_debug_* entry points (tests) */
  const char *source_name; /* the .nn file named in comments */
  bool stats;        /* --stats: per-layer statistics on the steps that ask for them (stats.c) */
  bool mpi;          /* also emit NAME_train_step_mpi (data-parallel over an MPI communicator) */
} EmitOptions;

uint64_t model_hash(const Graph *g);
/* Emits NAME.h and NAME.c for a differentiated graph whose ops all have kernels (generate()
 * checks that first). */
void emit_c(Compilation *c, const EmitOptions *opt, FILE *h, FILE *cfile);
/* The glue main() of `nnc train`: fills an nnrt_model_api and calls nnrt_train_main. */
void emit_train_main(Compilation *c, FILE *out, bool stats, bool mpi); /* and the --stats, --mpi glue */
/* The main() of `nnc bench`: times train_step and forward on random data. */
void emit_bench_main(Compilation *c, FILE *out);

/* ============================== stats.c ============================== */
/* The layers (summary rows) whose output (grad false) or output's gradient (grad true) node id is;
 * at most max of them into layers; returns how many. */
int stats_layers_of(const Graph *g, NodeId id, bool grad, int *layers, int max);
void stats_emit_header(FILE *h, const Graph *g, const char *name, const char *upper);
void stats_emit_fields(FILE *out, const Graph *g);  /* inside the model's struct */
void stats_emit_helpers(FILE *out);                 /* nnc_stats_act(), nnc_stats_grad() */
/* After the kernel that stored node id (at ref, count elements): its statistics' pass. */
void stats_emit_pass(FILE *out, const Graph *g, NodeId id, const char *ref, const char *count);
/* The reading functions; in_train marks the nodes training computes (the others get NaN). */
void stats_emit_api(FILE *out, const Graph *g, const char *name, const bool *in_train);
void stats_emit_train_glue(FILE *out, const Graph *g, const char *upper);

/* ============================== plot.c ============================== */
/* `nnc plot`: the SVG of the CSV text (modified in place) that `nnc train --stats` wrote, into a
 * malloc'd *svg; false after reporting "SHOWN:LINE: error: ..." to err. file_base titles a file
 * without a model column. */
bool plot_stats(Compilation *c, const char *shown, char *text, const char *file_base, char **svg, size_t *svg_len,
                FILE *err);

/* ============================== emit_dense.c ============================== */
/* The generated file's nnc_matmul(): nnc's register-blocked product for dense layers (needs
 * nnc_real, NNC_HOT and <string.h> before it). */
extern const char *const dense_matmul_helper;

/* ============================== export.c ============================== */
/* Writes the PyTorch twin NAME_torch.py of a front-end-checked graph (with a loss and an optimizer);
 * source_name is the .nn file named in its docstring. */
void export_torch(Compilation *c, const char *source_name, FILE *out);

/* ============================== output.c ============================== */
typedef struct EmbeddedFile { const char *name; const unsigned char *data; size_t size; } EmbeddedFile;
extern const EmbeddedFile runtime_files[]; /* runtime/ sources and kernels, embedded at build time */
const EmbeddedFile *embedded_file(const char *name); /* dies when name is not embedded */

typedef struct OutFile { const char *name; char *data; size_t size; } OutFile;
/* Writes every file into dir (made if missing) through temporary files renamed into place, so a
 * failure leaves no partial file; returns false after printing why. */
bool write_files(const char *dir, const OutFile *files, int n_files, FILE *err);
/* Appends the embedded runtime file `name` (e.g. "nnrt.c", "nnc_twin.py") to files. */
void add_embedded(Compilation *c, const char *name, OutFile *files, int *n_files);
typedef enum Driver { DRIVER_NONE, DRIVER_TRAIN, DRIVER_BENCH } Driver;
/* Emits the model and the runtime files `nnc build` writes, plus a main() for train or bench. */
bool generate(Compilation *c, const EmitOptions *opt, Driver driver, OutFile *files, int *n_files);
/* The PyTorch twin's files, NAME_torch.py and nnc_twin.py (export.c). */
void generate_torch(Compilation *c, const char *source_name, OutFile *files, int *n_files);

#endif
