/* parse.c — drives the re2c lexer and the Lemon parser, and builds the AST.
 *
 * The grammar's actions (grammar/nn.y) call the constructors below, one call per action; all AST
 * memory comes from the compilation's arena. Literal values are converted here, where an integer
 * too large for 64 bits is reported at its token.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"
#include "nn.h"

struct ParseCtx {
  Compilation *c;
  Stmt *stmts;
  bool too_deep;       /* the parser stack overflowed: stop feeding it */
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
  a->args = args;
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

Ast *ast_append(Ast *list, Ast *item) {
  if (!list) return item;
  Ast *last = list;
  while (last->next) last = last->next;
  last->next = item;
  return list;
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
  s->dims = dims;
  return s;
}

Stmt *stmt_repeat(ParseCtx *p, Token kw, Ast *count, Stmt *body) {
  Stmt *s = stmt_new(p, ST_REPEAT, kw);
  s->expr = count;
  s->body = body;
  return s;
}

Stmt *stmt_block(ParseCtx *p, Token kw, Token name, Ident *params, Stmt *body) {
  Stmt *s = stmt_named(p, ST_BLOCK, kw, name, NULL);
  s->params = params;
  s->body = body;
  return s;
}

Stmt *stmt_expr(ParseCtx *p, StmtKind kind, Token kw, Ast *expr) {
  Stmt *s = stmt_new(p, kind, kw);
  s->expr = expr;
  return s;
}

Stmt *stmt_append(Stmt *list, Stmt *item) {
  if (!item) return list;
  if (!list) return item;
  Stmt *last = list;
  while (last->next) last = last->next;
  last->next = item;
  return list;
}

Ident *ident_append(ParseCtx *p, Ident *list, Token name) {
  Ident *id = arena_alloc(&p->c->arena, sizeof *id);
  id->name = token_text(p, name);
  id->loc = name.loc;
  if (!list) return id;
  Ident *last = list;
  while (last->next) last = last->next;
  last->next = id;
  return list;
}

void parse_syntax_error(ParseCtx *p, Token at) {
  Diag *d = &p->c->diag;
  if (at.kind == TK_IDENT)
    diag_error(d, at.loc, "unexpected identifier '%.*s'", at.len > 40 ? 40 : at.len, at.text);
  else if (at.kind == TK_INT || at.kind == TK_REAL)
    diag_error(d, at.loc, "unexpected number '%.*s'", at.len > 40 ? 40 : at.len, at.text);
  else if (at.kind == TK_SEP && at.len == 0)
    diag_error(d, at.loc, at.loc < p->c->len ? "unexpected '}'" : "unexpected end of input");
  else if (at.kind == TK_SEP && at.text[0] == ';')
    diag_error(d, at.loc, "unexpected ';'");
  else if (at.kind == TK_SEP)
    diag_error(d, at.loc, "unexpected end of line");
  else
    diag_error(d, at.loc, "unexpected %s", token_name(at.kind));
}

void parse_too_deep(ParseCtx *p) {
  p->too_deep = true;
}

void parse_done(ParseCtx *p, Stmt *stmts) {
  p->stmts = stmts;
}

Program parse_program(Compilation *c) {
  ParseCtx ctx = {c, NULL, false};
  Lexer lx;
  lex_init(&lx, c->src, c->len);
  void *parser = nnParseAlloc(malloc, &ctx);
  if (!parser) nn_die("out of memory");
  int errors_before = c->diag.n_errors;
  for (;;) {
    Token t = lex_next(&lx, &c->diag);
    nnParse(parser, t.kind, t);
    if (ctx.too_deep) {
      diag_error(&c->diag, t.loc, "expression nested too deeply");
      break;
    }
    if (t.kind == 0) break;
  }
  nnParseFree(parser, free);
  Program prog = {ctx.stmts, c->diag.n_errors == errors_before};
  return prog;
}
