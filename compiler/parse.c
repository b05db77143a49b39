/* parse.c — drives the re2c lexer and the Lemon parser, and builds the AST.
 *
 * The grammar's actions (grammar/nn.y) call the constructors below, one call per action; all AST
 * memory comes from the compilation's arena. Literal values are converted here, where an integer
 * too large for 64 bits is reported at its token.
 *
 * Lists (statements, arguments, dimensions, block parameters) are built newest first, so that
 * appending is O(1) on any input, and reversed once by the constructor that takes the whole list.
 * The driver tracks the open brackets, so a syntax error caused by a missing ')' or '}' says so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"
#include "nn.h"

#define MAX_OPEN 64   /* open brackets remembered for "is a ')' missing?" hints */

typedef struct StmtStart { Token tok[2]; int n; } StmtStart;

struct ParseCtx {
  Compilation *c;
  Stmt *stmts;
  bool too_deep;       /* the parser stack overflowed: stop feeding it */
  bool complete;       /* the parser accepted the program (with its broken statements) */
  int errors_at_sep;   /* diag.n_errors at the last statement end */
  Token open[MAX_OPEN];/* the innermost open '(' '[' '{' (deeper ones are counted, not kept) */
  int n_open;
  /* for broken statements: the first two tokens of the statement being read, of the ones whose
     bodies ('{') enclose it, and of the statement the last SEP ended */
  StmtStart current, outer[MAX_OPEN], ended;
  int n_outer;
  bool ended_with_error; /* an error was reported in the statement the last SEP ended */
};

void *nnParseAlloc(void *(*alloc)(size_t), ParseCtx *ctx);
void nnParse(void *parser, int kind, Token minor);
void nnParseFree(void *parser, void (*release)(void *));

static Ast *ast_new(ParseCtx *p, AstKind kind, SrcLoc loc) {
  Ast *a = arena_alloc(&p->c->arena, sizeof *a);
  a->kind = kind;
  a->loc = loc;
  return a;
}

/* Lists are built newest first (O(1) appends) and reversed once when complete. */
#define DEFINE_REVERSE(name, Type)                                                                  \
  static Type *name(Type *list) {                                                                  \
    Type *out = NULL;                                                                              \
    while (list) {                                                                                 \
      Type *next = list->next;                                                                     \
      list->next = out;                                                                            \
      out = list;                                                                                  \
      list = next;                                                                                 \
    }                                                                                              \
    return out;                                                                                    \
  }
DEFINE_REVERSE(ast_reverse, Ast)
DEFINE_REVERSE(stmt_reverse, Stmt)
DEFINE_REVERSE(ident_reverse, Ident)

static const char *token_text(ParseCtx *p, Token t) {
  return arena_strndup(&p->c->arena, t.text, (size_t)t.len);
}

Ast *ast_int(ParseCtx *p, Token t) {
  Ast *a = ast_new(p, AST_INT, t.loc);
  int64_t v = 0;
  for (int i = 0; i < t.len; i++) {
    int digit = t.text[i] - '0';
    if (v > (INT64_MAX - digit) / 10) {
      diag_error(&p->c->diag, t.loc, "integer literal '%.*s' is too large", t.len > 40 ? 40 : t.len,
                 t.text);
      v = 0;
      break;
    }
    v = v * 10 + digit;
  }
  a->ival = v;
  return a;
}

Ast *ast_real(ParseCtx *p, Token t) {
  Ast *a = ast_new(p, AST_REAL, t.loc);
  char buf[64];
  if (t.len >= (int)sizeof buf) {
    diag_error(&p->c->diag, t.loc, "number literal is too long");
    return a;
  }
  memcpy(buf, t.text, (size_t)t.len);
  buf[t.len] = 0;
  errno = 0;
  a->rval = strtod(buf, NULL);
  if (errno == ERANGE && (a->rval > 1 || a->rval < -1))
    diag_error(&p->c->diag, t.loc, "number '%s' is out of range", buf);
  return a;
}

Ast *ast_bool(ParseCtx *p, Token t, bool v) {
  Ast *a = ast_new(p, AST_BOOL, t.loc);
  a->ival = v;
  return a;
}

Ast *ast_name(ParseCtx *p, Token t) {
  Ast *a = ast_new(p, AST_NAME, t.loc);
  a->name = token_text(p, t);
  return a;
}

Ast *ast_call(ParseCtx *p, Token callee, Ast *args) {
  Ast *a = ast_new(p, AST_CALL, callee.loc);
  a->name = token_text(p, callee);
  a->args = ast_reverse(args);
  return a;
}

Ast *ast_kwarg(ParseCtx *p, Token name, Ast *value) {
  Ast *a = ast_new(p, AST_KWARG, name.loc);
  a->name = token_text(p, name);
  a->lhs = value;
  return a;
}

Ast *ast_binary(ParseCtx *p, Token op, Ast *lhs, Ast *rhs) {
  Ast *a = ast_new(p, AST_BINARY, op.loc);
  a->op = op.text[0];
  a->lhs = lhs;
  a->rhs = rhs;
  return a;
}

Ast *ast_neg(ParseCtx *p, Token op, Ast *operand) {
  Ast *a = ast_new(p, AST_NEG, op.loc);
  a->lhs = operand;
  return a;
}

/* Adds item to a list built newest first (see the top of the file). */
Ast *ast_append(Ast *list, Ast *item) {
  item->next = list;
  return item;
}

Stmt *stmt_new(ParseCtx *p, StmtKind kind, Token at) {
  Stmt *s = arena_alloc(&p->c->arena, sizeof *s);
  s->kind = kind;
  s->loc = at.loc;
  s->name_loc = at.loc;
  return s;
}

Stmt *stmt_named(ParseCtx *p, StmtKind kind, Token kw, Token name, Ast *expr) {
  Stmt *s = stmt_new(p, kind, kw);
  s->name = token_text(p, name);
  s->name_loc = name.loc;
  s->expr = expr;
  return s;
}

Stmt *stmt_shape(ParseCtx *p, StmtKind kind, Token kw, Token name, Ast *dims) {
  Stmt *s = stmt_named(p, kind, kw, name, NULL);
  s->dims = ast_reverse(dims);
  return s;
}

Stmt *stmt_repeat(ParseCtx *p, Token kw, Ast *count, Stmt *body) {
  Stmt *s = stmt_new(p, ST_REPEAT, kw);
  s->expr = count;
  s->body = stmt_reverse(body);
  return s;
}

Stmt *stmt_block(ParseCtx *p, Token kw, Token name, Ident *params, Stmt *body) {
  Stmt *s = stmt_named(p, ST_BLOCK, kw, name, NULL);
  s->params = ident_reverse(params);
  s->body = stmt_reverse(body);
  return s;
}

Stmt *stmt_expr(ParseCtx *p, StmtKind kind, Token kw, Ast *expr) {
  Stmt *s = stmt_new(p, kind, kw);
  s->expr = expr;
  return s;
}

/* Adds item to a list built newest first (see the top of the file). */
Stmt *stmt_append(Stmt *list, Stmt *item) {
  if (!item) return list;
  item->next = list;
  return item;
}

/* A statement that parsed, but in which the lexer reported an error (a dropped character or
 * number): kept as broken, since what it says is not what was written. */
Stmt *stmt_checked(ParseCtx *p, Stmt *s) {
  if (p->ended_with_error) s->broken = true;
  return s;
}

/* The statement a syntax error was in, as far as its first tokens tell: `h = ...` is an assignment
 * to h, `input x ...` declares x, `loss ...` is the loss, and so on. */
Stmt *stmt_broken(ParseCtx *p) {
  static const struct { int token; StmtKind kind; bool named; } starts[] = {
      {TK_MODEL, ST_MODEL, true},   {TK_CONST, ST_CONST, true},   {TK_INPUT, ST_INPUT, true},
      {TK_LABEL, ST_LABEL, true},   {TK_TARGET, ST_TARGET, true}, {TK_BLOCK, ST_BLOCK, true},
      {TK_OUTPUT, ST_OUTPUT, true}, {TK_RETURN, ST_RETURN, false}, {TK_REPEAT, ST_REPEAT, false},
      {TK_LOSS, ST_LOSS, false},    {TK_OPTIMIZER, ST_OPTIMIZER, false}};
  const StmtStart *st = &p->ended;
  Token first = st->n > 0 ? st->tok[0] : (Token){0};
  Stmt *s = stmt_new(p, ST_UNKNOWN, first);
  s->broken = true;
  if (st->n == 2 && first.kind == TK_IDENT && st->tok[1].kind == TK_ASSIGN) {
    s->kind = ST_ASSIGN;
    s->name = token_text(p, first);
    return s;
  }
  for (size_t i = 0; st->n > 0 && i < sizeof starts / sizeof starts[0]; i++)
    if (first.kind == starts[i].token) {
      s->kind = starts[i].kind;
      if (starts[i].named && st->n == 2 && st->tok[1].kind == TK_IDENT) {
        s->name = token_text(p, st->tok[1]);
        s->name_loc = st->tok[1].loc;
      }
    }
  return s;
}

/* Keeps the first two tokens of each statement (stmt_broken's evidence); called before the parser
 * sees t, so that the statement a SEP ends is known when the parser reduces it. */
static void track_statement(ParseCtx *p, Token t) {
  if (t.kind == TK_SEP) {
    p->ended = p->current;
    p->current.n = 0;
    p->ended_with_error = p->c->diag.n_errors > p->errors_at_sep;
  } else if (t.kind == TK_LBRACE) {
    if (p->n_outer < MAX_OPEN) p->outer[p->n_outer] = p->current;
    p->n_outer++;
    p->current.n = 0;
  } else if (t.kind == TK_RBRACE) {
    if (p->n_outer > 0 && --p->n_outer < MAX_OPEN) p->current = p->outer[p->n_outer];
  } else if (p->current.n < 2 && t.kind != 0) {
    p->current.tok[p->current.n++] = t;
  }
}

/* Adds a name to a list built newest first (see the top of the file). */
Ident *ident_append(ParseCtx *p, Ident *list, Token name) {
  Ident *id = arena_alloc(&p->c->arena, sizeof *id);
  id->name = token_text(p, name);
  id->loc = name.loc;
  id->next = list;
  return id;
}

static int line_of(ParseCtx *p, SrcLoc loc) {
  int line, col;
  diag_line_col(&p->c->diag, loc, &line, &col);
  return line;
}

/* The bracket a syntax error at `at` most likely lacks the closing of, or NULL: the innermost open
 * one, when the input ended or (for '(' and '[', inside which newlines are ignored) the error is on
 * a later line. */
static const Token *unclosed(ParseCtx *p, Token at) {
  if (p->n_open == 0 || p->n_open > MAX_OPEN) return NULL;
  const Token *open = &p->open[p->n_open - 1];
  bool at_end = at.kind == 0 || (at.kind == TK_SEP && at.len == 0 && at.loc >= p->c->len);
  if (at_end) return open;
  if (open->kind != TK_LBRACE && line_of(p, at.loc) > line_of(p, open->loc)) return open;
  return NULL;
}

void parse_syntax_error(ParseCtx *p, Token at) {
  Diag *d = &p->c->diag;
  /* A bad character or number in this statement was reported by the lexer and dropped; what the
   * parser trips over next is a consequence. */
  if (d->n_errors > p->errors_at_sep) return;
  char what[80];
  if (at.kind == TK_IDENT)
    snprintf(what, sizeof what, "identifier '%.*s'", at.len > 40 ? 40 : at.len, at.text);
  else if (at.kind == TK_INT || at.kind == TK_REAL)
    snprintf(what, sizeof what, "number '%.*s'", at.len > 40 ? 40 : at.len, at.text);
  else if (at.kind == TK_SEP && at.len == 0)
    snprintf(what, sizeof what, "%s", at.loc < p->c->len ? "'}'" : "end of input");
  else if (at.kind == TK_SEP && at.text[0] == ';')
    snprintf(what, sizeof what, "';'");
  else if (at.kind == TK_SEP)
    snprintf(what, sizeof what, "end of line");
  else
    snprintf(what, sizeof what, "%s", token_name(at.kind));
  const Token *open = unclosed(p, at);
  if (open) {
    char close = open->kind == TK_LPAREN ? ')' : open->kind == TK_LBRACKET ? ']' : '}';
    diag_error(d, at.loc, "unexpected %s; is a '%c' missing?", what, close);
    diag_note(d, open->loc, "the '%.1s' opened here is not closed", open->text);
  } else {
    diag_error(d, at.loc, "unexpected %s", what);
  }
}

/* Keeps p->open in step with the brackets the parser has seen, mirroring the lexer: a '{' or '}'
 * also forgets every '(' and '[' left open before it. Past MAX_OPEN only the depth is kept. */
static void track_brackets(ParseCtx *p, Token t) {
  if (t.kind != TK_LPAREN && t.kind != TK_LBRACKET && t.kind != TK_LBRACE && t.kind != TK_RPAREN &&
      t.kind != TK_RBRACKET && t.kind != TK_RBRACE)
    return;
  if (p->n_open > MAX_OPEN) {
    if (t.kind == TK_LPAREN || t.kind == TK_LBRACKET || t.kind == TK_LBRACE) p->n_open++;
    else p->n_open--;
    return;
  }
  if (t.kind == TK_RPAREN || t.kind == TK_RBRACKET) {
    if (p->n_open > 0 && p->open[p->n_open - 1].kind != TK_LBRACE) p->n_open--;
    return;
  }
  if (t.kind == TK_LBRACE || t.kind == TK_RBRACE)
    while (p->n_open > 0 && p->open[p->n_open - 1].kind != TK_LBRACE) p->n_open--;
  if (t.kind == TK_RBRACE) {
    if (p->n_open > 0) p->n_open--;
    return;
  }
  if (p->n_open < MAX_OPEN) p->open[p->n_open] = t;
  p->n_open++;
}

void parse_too_deep(ParseCtx *p) {
  p->too_deep = true;
}

void parse_done(ParseCtx *p, Stmt *stmts) {
  p->stmts = stmt_reverse(stmts);
  p->complete = true;
}

Program parse_program(Compilation *c) {
  ParseCtx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.c = c;
  ctx.errors_at_sep = c->diag.n_errors;
  Lexer lx;
  lex_init(&lx, c->src, c->len);
  void *parser = nnParseAlloc(malloc, &ctx);
  if (!parser) nn_die("out of memory");
  int errors_before = c->diag.n_errors;
  for (;;) {
    Token t = lex_next(&lx, &c->diag);
    track_statement(&ctx, t);
    nnParse(parser, t.kind, t);
    if (ctx.too_deep) {
      bool in_body = t.kind == TK_LBRACE || (ctx.n_open > 0 && ctx.n_open <= MAX_OPEN &&
                                             ctx.open[ctx.n_open - 1].kind == TK_LBRACE);
      diag_error(&c->diag, t.loc, in_body ? "repeats and blocks nested too deeply" : "expression nested too deeply");
      break;
    }
    track_brackets(&ctx, t);
    if (t.kind == TK_SEP) ctx.errors_at_sep = c->diag.n_errors;
    if (t.kind == 0) break;
  }
  nnParseFree(parser, free);
  Program prog = {ctx.stmts, c->diag.n_errors == errors_before, ctx.complete && !ctx.too_deep};
  return prog;
}
