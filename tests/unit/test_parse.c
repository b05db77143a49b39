/* test_parse.c — the Lemon grammar (grammar/nn.y) and the AST it builds (parse.c).
 *
 * parsed() prints the AST of a source in one line: statements separated by "; ", binary
 * operators fully parenthesised, e.g. "model m; h = relu((x + (2 * y)))". Syntax errors are
 * checked with their exact message, caret and notes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <time.h>

#include "front_util.h"

typedef struct Buf { char *p; size_t n, cap; } Buf;

static void put(Buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (b->n + (size_t)need + 1 > b->cap) {
    b->cap = (b->n + (size_t)need + 1) * 2;
    b->p = realloc(b->p, b->cap);
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  b->n += (size_t)need;
}

static void print_expr(Buf *b, const Ast *e) {
  switch (e->kind) {
  case AST_INT: put(b, "%lld", (long long)e->ival); break;
  case AST_REAL: put(b, "%g", e->rval); break;
  case AST_BOOL: put(b, "%s", e->ival ? "true" : "false"); break;
  case AST_NAME: put(b, "%s", e->name); break;
  case AST_KWARG: put(b, "%s=", e->name); print_expr(b, e->lhs); break;
  case AST_NEG: put(b, "(-"); print_expr(b, e->lhs); put(b, ")"); break;
  case AST_BINARY:
    put(b, "(");
    print_expr(b, e->lhs);
    put(b, " %c ", e->op);
    print_expr(b, e->rhs);
    put(b, ")");
    break;
  case AST_CALL:
    put(b, "%s(", e->name);
    for (const Ast *a = e->args; a; a = a->next) {
      print_expr(b, a);
      if (a->next) put(b, ", ");
    }
    put(b, ")");
    break;
  }
}

static void print_stmts(Buf *b, const Stmt *s) {
  static const char *kinds[] = {"model", "const", "input", "label", "target", "assign", "repeat", "block",
                                "return", "output", "loss", "optimizer", "unknown"};
  for (; s; s = s->next) {
    if (s->broken) {
      /* what a syntax error left of it: its kind and name, as its first tokens tell */
      put(b, "<broken %s%s%s>", kinds[s->kind], s->name ? " " : "", s->name ? s->name : "");
      if (s->next) put(b, "; ");
      continue;
    }
    switch (s->kind) {
    case ST_UNKNOWN: put(b, "<unknown>"); break;
    case ST_MODEL: put(b, "model %s", s->name); break;
    case ST_CONST: put(b, "const %s = ", s->name); print_expr(b, s->expr); break;
    case ST_INPUT:
    case ST_TARGET:
      put(b, "%s %s [", s->kind == ST_INPUT ? "input" : "target", s->name);
      for (const Ast *d = s->dims; d; d = d->next) {
        print_expr(b, d);
        if (d->next) put(b, ", ");
      }
      put(b, "]");
      break;
    case ST_LABEL: put(b, "label %s class[", s->name); print_expr(b, s->expr); put(b, "]"); break;
    case ST_ASSIGN: put(b, "%s = ", s->name); print_expr(b, s->expr); break;
    case ST_REPEAT:
      put(b, "repeat ");
      print_expr(b, s->expr);
      put(b, " { ");
      print_stmts(b, s->body);
      put(b, " }");
      break;
    case ST_BLOCK:
      put(b, "block %s(", s->name);
      for (const Ident *p = s->params; p; p = p->next) put(b, "%s%s", p->name, p->next ? ", " : "");
      put(b, ") { ");
      print_stmts(b, s->body);
      put(b, " }");
      break;
    case ST_RETURN: put(b, "return "); print_expr(b, s->expr); break;
    case ST_OUTPUT: put(b, "output %s", s->name); break;
    case ST_LOSS: put(b, "loss "); print_expr(b, s->expr); break;
    case ST_OPTIMIZER: put(b, "optimizer "); print_expr(b, s->expr); break;
    }
    if (s->next) put(b, "; ");
  }
}

typedef struct Parsed {
  Compilation c;
  Program prog;
  char *diag;
  size_t diag_len;
  char *text; /* the printed AST */
} Parsed;

static Parsed *parse_n(const char *src, size_t len) {
  static Parsed p;
  FILE *out = open_memstream(&p.diag, &p.diag_len);
  compilation_init(&p.c, "t.nn", src, len, out);
  p.prog = parse_program(&p.c);
  fclose(out);
  p.c.diag.out = NULL;
  Buf b = {NULL, 0, 0};
  put(&b, "%s", "");
  print_stmts(&b, p.prog.stmts);
  p.text = b.p;
  return &p;
}

static void parsed_free(Parsed *p) {
  compilation_free(&p->c);
  free(p->diag);
  free(p->text);
}

/* Parses a correct source; returns its printed AST (valid until the next call). */
static const char *parsed(const char *src) {
  static char keep[8192];
  Parsed *p = parse_n(src, strlen(src));
  if (p->c.diag.n_errors) fprintf(stderr, "unexpected syntax errors:\n%s", p->diag);
  assert_int_equal(p->c.diag.n_errors, 0);
  assert_true(p->prog.syntax_ok);
  snprintf(keep, sizeof keep, "%s", p->text);
  parsed_free(p);
  return keep;
}

/* Parses an incorrect source; returns what was reported (valid until the next call). */
static const char *syntax_errors(const char *src, int n_errors) {
  static char keep[8192];
  Parsed *p = parse_n(src, strlen(src));
  if (p->c.diag.n_errors != n_errors) fprintf(stderr, "reported:\n%s", p->diag);
  assert_int_equal(p->c.diag.n_errors, n_errors);
  assert_false(p->prog.syntax_ok);
  snprintf(keep, sizeof keep, "%s", p->diag);
  parsed_free(p);
  return keep;
}

static void test_statements(void **state) {
  (void)state;
  assert_string_equal(parsed("model m\n"
                             "const n = 3\n"
                             "input x : [1, 28, 28]\n"
                             "label y : class[10]\n"
                             "target t : [n * 2]\n"
                             "h = x\n"
                             "output h\n"
                             "loss softmax_cross_entropy(h, y)\n"
                             "optimizer sgd(lr=0.1, momentum=0.9)\n"),
                      "model m; const n = 3; input x [1, 28, 28]; label y class[10]; target t [(n * 2)]; h = x; "
                      "output h; loss softmax_cross_entropy(h, y); optimizer sgd(lr=0.1, momentum=0.9)");
}

static void test_blocks_and_repeats(void **state) {
  (void)state;
  assert_string_equal(parsed("block basic(x, c) {\n"
                             "  h = relu(conv2d(x, c, 3, pad=1))\n"
                             "  return relu(h + x)\n"
                             "}\n"
                             "repeat n - 1 { h = basic(h, 16); h = relu(h) }\n"
                             "repeat 0 {}\n"
                             "block none() { return 1 }\n"),
                      "block basic(x, c) { h = relu(conv2d(x, c, 3, pad=1)); return relu((h + x)) }; "
                      "repeat (n - 1) { h = basic(h, 16); h = relu(h) }; repeat 0 {  }; block none() { return 1 }");
  /* Nested bodies keep their own order. */
  assert_string_equal(parsed("repeat 1 {\n a = 1\n repeat 2 {\n b = 2\n c = 3\n }\n d = 4\n}\n"),
                      "repeat 1 { a = 1; repeat 2 { b = 2; c = 3 }; d = 4 }");
}

static void test_precedence(void **state) {
  (void)state;
  assert_string_equal(parsed("a = 1 + 2 * 3"), "a = (1 + (2 * 3))");
  assert_string_equal(parsed("a = (1 + 2) * 3"), "a = ((1 + 2) * 3)");
  assert_string_equal(parsed("a = 1 - 2 - 3"), "a = ((1 - 2) - 3)");
  assert_string_equal(parsed("a = 8 / 4 / 2"), "a = ((8 / 4) / 2)");
  assert_string_equal(parsed("a = 2 * 3 / 4 * 5"), "a = (((2 * 3) / 4) * 5)");
  assert_string_equal(parsed("a = -x * 2"), "a = ((-x) * 2)");
  assert_string_equal(parsed("a = - - 1"), "a = (-(-1))");
  assert_string_equal(parsed("a = 0.5 * h + x"), "a = ((0.5 * h) + x)");
  assert_string_equal(parsed("a = h + -x"), "a = (h + (-x))");
  assert_string_equal(parsed("a = 1e-3 * f(true, false)"), "a = (0.001 * f(true, false))");
}

static void test_arguments(void **state) {
  (void)state;
  assert_string_equal(parsed("h = dense(x, 10, bias=false, init=normal(0.01))"),
                      "h = dense(x, 10, bias=false, init=normal(0.01))");
  /* A trailing comma is allowed; an empty list too. */
  assert_string_equal(parsed("h = f(a, b,)\ng = f()"), "h = f(a, b); g = f()");
  /* Arguments may span lines. */
  assert_string_equal(parsed("h = conv2d(x,\n   16,\n   3,\n   pad=1\n)"), "h = conv2d(x, 16, 3, pad=1)");
  assert_string_equal(parsed("input x : [\n1,\n2\n]"), "input x [1, 2]");
}

static void test_separators(void **state) {
  (void)state;
  assert_string_equal(parsed("model m; input x : [4]\r\n\r\n;;h = x # c\n"), "model m; input x [4]; h = x");
  assert_string_equal(parsed(""), "");
  assert_string_equal(parsed("# nothing\n\n"), "");
}

static void test_long_lists_are_linear(void **state) {
  (void)state;
  /* 200,000 arguments, dimensions and statements: appending must not be quadratic. */
  enum { N = 200000 };
  size_t cap = (size_t)N * 8 + 64;
  char *src = malloc(cap);
  size_t n = (size_t)snprintf(src, cap, "h = f(");
  for (int i = 0; i < N; i++) n += (size_t)snprintf(src + n, cap - n, "%d,", i % 10);
  n += (size_t)snprintf(src + n, cap - n, ")\n");
  for (int i = 0; i < N; i++) n += (size_t)snprintf(src + n, cap - n, "a=%d\n", i % 10);
  clock_t t0 = clock();
  Parsed *p = parse_n(src, n);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  assert_int_equal(p->c.diag.n_errors, 0);
  int n_args = 0, n_stmts = 0;
  for (Ast *a = p->prog.stmts->expr->args; a; a = a->next) assert_int_equal(a->ival, n_args++ % 10);
  for (Stmt *s = p->prog.stmts; s; s = s->next) n_stmts++;
  assert_int_equal(n_args, N);
  assert_int_equal(n_stmts, N + 1);
  assert_true(secs < 5.0);
  parsed_free(p);
  free(src);
}

/* A syntax error keeps its statement in the AST as what it began as, for lowering. */
static void test_broken_statements_kept(void **state) {
  (void)state;
  Parsed *p = parse_n("model m\nh = = x\nconst k = )\ninput x : 4\nrepeat 2 { g = ) }\nloss )\nh = relu(x)\n", 78);
  assert_false(p->prog.syntax_ok);
  assert_true(p->prog.complete);
  assert_string_equal(p->text, "model m; <broken assign h>; <broken const k>; <broken input x>; "
                               "repeat 2 { <broken assign g> }; <broken loss>; h = relu(x)");
  parsed_free(p);
  /* a lexical error in a statement that still parses: broken too (the number was dropped) */
  p = parse_n("h = dense(x, 99999999999999999999)\n", 35);
  assert_string_equal(p->text, "<broken assign h>");
  parsed_free(p);
}

static void test_error_unexpected_token(void **state) {
  (void)state;
  assert_string_equal(syntax_errors("model m\nh = dense(x 3)\n", 1),
                      "t.nn:2:13: error: unexpected number '3'\n"
                      "h = dense(x 3)\n"
                      "            ^\n");
  assert_string_equal(syntax_errors("h = = x", 1),
                      "t.nn:1:5: error: unexpected '='\n"
                      "h = = x\n"
                      "    ^\n");
  assert_string_equal(syntax_errors("input x : 4", 1),
                      "t.nn:1:11: error: unexpected number '4'\n"
                      "input x : 4\n"
                      "          ^\n");
}

static void test_error_kinds_of_token(void **state) {
  (void)state;
  assert_string_equal(syntax_errors("h = relu(x) y", 1),
                      "t.nn:1:13: error: unexpected identifier 'y'\n"
                      "h = relu(x) y\n"
                      "            ^\n");
  assert_string_equal(syntax_errors("h = ;", 1),
                      "t.nn:1:5: error: unexpected ';'\n"
                      "h = ;\n"
                      "    ^\n");
  assert_string_equal(syntax_errors("h =\nx", 1),
                      "t.nn:1:4: error: unexpected end of line\n"
                      "h =\n"
                      "   ^\n");
  assert_string_equal(syntax_errors("model\n", 1),
                      "t.nn:1:6: error: unexpected end of line\n"
                      "model\n"
                      "     ^\n");
  assert_string_equal(syntax_errors("h = x +", 1),
                      "t.nn:1:8: error: unexpected end of input\n"
                      "h = x +\n"
                      "       ^\n");
  assert_string_equal(syntax_errors("const = 3", 1),
                      "t.nn:1:7: error: unexpected '='\n"
                      "const = 3\n"
                      "      ^\n");
}

static void test_error_missing_close(void **state) {
  (void)state;
  /* A missing ')' is found at the next line's first token (newlines inside ( ) are ignored). */
  assert_string_equal(syntax_errors("model m\nh = dense(x, 3\nloss mse(h, t)\n", 1),
                      "t.nn:3:1: error: unexpected 'loss'; is a ')' missing?\n"
                      "loss mse(h, t)\n"
                      "^\n"
                      "t.nn:2:10: note: the '(' opened here is not closed\n"
                      "h = dense(x, 3\n"
                      "         ^\n");
  assert_string_equal(syntax_errors("input x : [1, 2\nh = x\n", 1),
                      "t.nn:2:1: error: unexpected identifier 'h'; is a ']' missing?\n"
                      "h = x\n"
                      "^\n"
                      "t.nn:1:11: note: the '[' opened here is not closed\n"
                      "input x : [1, 2\n"
                      "          ^\n");
  assert_string_equal(syntax_errors("h = f(g(x)", 1),
                      "t.nn:1:11: error: unexpected end of input; is a ')' missing?\n"
                      "h = f(g(x)\n"
                      "          ^\n"
                      "t.nn:1:6: note: the '(' opened here is not closed\n"
                      "h = f(g(x)\n"
                      "     ^\n");
  assert_string_equal(syntax_errors("repeat 2 {\n  h = relu(h)\n", 1),
                      "t.nn:3:1: error: unexpected end of input; is a '}' missing?\n"
                      "\n"
                      "^\n"
                      "t.nn:1:10: note: the '{' opened here is not closed\n"
                      "repeat 2 {\n"
                      "         ^\n");
  /* A '(' left open inside a body is found at the '}'. */
  assert_string_equal(syntax_errors("repeat 2 {\n  h = relu(h\n}\n", 1),
                      "t.nn:3:1: error: unexpected '}'; is a ')' missing?\n"
                      "}\n"
                      "^\n"
                      "t.nn:2:11: note: the '(' opened here is not closed\n"
                      "  h = relu(h\n"
                      "          ^\n");
  /* On the same line, the token itself is the problem: no hint. */
  assert_string_equal(syntax_errors("h = f(x y)", 1),
                      "t.nn:1:9: error: unexpected identifier 'y'\n"
                      "h = f(x y)\n"
                      "        ^\n");
}

static void test_error_unexpected_brace(void **state) {
  (void)state;
  assert_string_equal(syntax_errors("model m\n}\nh = x\n", 1),
                      "t.nn:2:1: error: unexpected '}'\n"
                      "}\n"
                      "^\n");
  assert_string_equal(syntax_errors("h = x }", 1),
                      "t.nn:1:7: error: unexpected '}'\n"
                      "h = x }\n"
                      "      ^\n");
  /* The statement before '}' is incomplete: the '}' is what was unexpected. */
  assert_string_equal(syntax_errors("repeat 2 { h = }", 1),
                      "t.nn:1:16: error: unexpected '}'\n"
                      "repeat 2 { h = }\n"
                      "               ^\n");
}

static void test_error_recovery_reports_each_statement(void **state) {
  (void)state;
  /* After a syntax error the parser resumes at the next statement: independent errors are all
   * reported, and the statements between them are still parsed. */
  const char *diag = syntax_errors("model m\n"
                                   "h = dense(x 3)\n"
                                   "g = relu(x)\n"
                                   "k = = 2\n"
                                   "repeat 2 { a = ) }\n"
                                   "q = 1 2\n",
                                   4);
  assert_non_null(strstr(diag, "t.nn:2:13: error: unexpected number '3'\n"));
  assert_non_null(strstr(diag, "t.nn:4:5: error: unexpected '='\n"));
  assert_non_null(strstr(diag, "t.nn:5:16: error: unexpected ')'\n"));
  assert_non_null(strstr(diag, "t.nn:6:7: error: unexpected number '2'\n"));
}

static void test_error_lexer_error_not_cascaded(void **state) {
  (void)state;
  /* The bad character is reported; the parser's complaint about what follows it is not. */
  assert_string_equal(syntax_errors("h = x $ 2\ng = y @\n", 2),
                      "t.nn:1:7: error: unexpected character '$'\n"
                      "h = x $ 2\n"
                      "      ^\n"
                      "t.nn:2:7: error: unexpected character '@'\n"
                      "g = y @\n"
                      "      ^\n");
}

static void test_error_nesting_too_deep(void **state) {
  (void)state;
  char src[20000];
  strcpy(src, "h = ");
  memset(src + 4, '(', 10000);
  strcpy(src + 10004, "x");
  Parsed *p = parse_n(src, strlen(src));
  assert_int_equal(p->c.diag.n_errors, 1);
  assert_non_null(strstr(p->diag, "error: expression nested too deeply\n"));
  parsed_free(p);
  /* Deep but within the limit is fine. */
  memset(src, 0, sizeof src);
  strcpy(src, "h = ");
  for (int i = 0; i < 100; i++) strcat(src, "(");
  strcat(src, "x");
  for (int i = 0; i < 100; i++) strcat(src, ")");
  assert_string_equal(parsed(src), "h = x");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_statements),
      cmocka_unit_test(test_blocks_and_repeats),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_arguments),
      cmocka_unit_test(test_separators),
      cmocka_unit_test(test_long_lists_are_linear),
      cmocka_unit_test(test_broken_statements_kept),
      cmocka_unit_test(test_error_unexpected_token),
      cmocka_unit_test(test_error_kinds_of_token),
      cmocka_unit_test(test_error_missing_close),
      cmocka_unit_test(test_error_unexpected_brace),
      cmocka_unit_test(test_error_recovery_reports_each_statement),
      cmocka_unit_test(test_error_lexer_error_not_cascaded),
      cmocka_unit_test(test_error_nesting_too_deep),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
