/* nn.y — the Lemon grammar of the .nn model language (spec §2–§3).
 *
 * Each action is one call into parse.c, which builds the AST in the compilation's arena (so no
 * %destructor is needed: nothing here is malloc'd). Statement ends (newline, ';', or the '}' that
 * closes a body) reach the parser as one token, SEP, made by the lexer (grammar/nn.re), which also
 * drops newlines inside ( ) and [ ]. A syntax error is reported once and the parser resumes at the
 * next statement end, so independent errors in later statements are reported too; the broken
 * statement stays in the AST as what it began as (stmt_broken), so lowering can still check the
 * others without errors that are only consequences.
 */
%name nnParse
%token_prefix TK_
%token_type {Token}
%extra_context {ParseCtx *ctx}
%stack_size 256
%include {
#include <assert.h>
#include <stdlib.h>
#include "nnc.h"
}
%syntax_error { parse_syntax_error(ctx, yyminor); }
%stack_overflow { parse_too_deep(ctx); }
%parse_accept { }

/* Token order fixes the TK_ numbers used by the lexer and token_name(). */
%token MODEL CONST INPUT LABEL TARGET BLOCK RETURN REPEAT LOSS OPTIMIZER OUTPUT CLASS TRUE FALSE.
%token IDENT INT REAL SEP LPAREN RPAREN LBRACKET RBRACKET LBRACE RBRACE COMMA ASSIGN COLON.
%token PLUS MINUS STAR SLASH.

%left PLUS MINUS.
%left STAR SLASH.
%right UMINUS.

%type stmts {Stmt*}
%type stmt {Stmt*}
%type params {Ident*}
%type paramlist {Ident*}
%type expr {Ast*}
%type exprlist {Ast*}
%type args {Ast*}
%type arglist {Ast*}
%type arg {Ast*}

/* ---------------- programs: statements separated by SEP ---------------- */
program ::= stmts(L).                       { parse_done(ctx, L); }

stmts(A) ::= .                              { A = 0; }
stmts(A) ::= stmts(L) SEP.                  { A = L; }
stmts(A) ::= stmts(L) stmt(S) SEP.          { A = stmt_append(L, stmt_checked(ctx, S)); }
stmts(A) ::= stmts(L) error SEP.            { A = stmt_append(L, stmt_broken(ctx)); }

/* ---------------- statements ---------------- */
/* model fashion_snn */
stmt(A) ::= MODEL(K) IDENT(N).              { A = stmt_named(ctx, ST_MODEL, K, N, 0); }
/* const n = 3 */
stmt(A) ::= CONST(K) IDENT(N) ASSIGN expr(E). { A = stmt_named(ctx, ST_CONST, K, N, E); }
/* input x : [1, 28, 28] */
stmt(A) ::= INPUT(K) IDENT(N) COLON LBRACKET exprlist(D) RBRACKET.  { A = stmt_shape(ctx, ST_INPUT, K, N, D); }
/* target t : [3] */
stmt(A) ::= TARGET(K) IDENT(N) COLON LBRACKET exprlist(D) RBRACKET. { A = stmt_shape(ctx, ST_TARGET, K, N, D); }
/* label y : class[10] */
stmt(A) ::= LABEL(K) IDENT(N) COLON CLASS LBRACKET expr(E) RBRACKET. { A = stmt_named(ctx, ST_LABEL, K, N, E); }
/* h = relu(h) */
stmt(A) ::= IDENT(N) ASSIGN expr(E).        { A = stmt_named(ctx, ST_ASSIGN, N, N, E); }
/* repeat n - 1 { ... } */
stmt(A) ::= REPEAT(K) expr(E) LBRACE stmts(B) RBRACE. { A = stmt_repeat(ctx, K, E, B); }
/* block basic(x, c) { ... return relu(h + x) } */
stmt(A) ::= BLOCK(K) IDENT(N) LPAREN params(P) RPAREN LBRACE stmts(B) RBRACE. { A = stmt_block(ctx, K, N, P, B); }
/* return relu(h + x) */
stmt(A) ::= RETURN(K) expr(E).              { A = stmt_expr(ctx, ST_RETURN, K, E); }
/* output logits */
stmt(A) ::= OUTPUT(K) IDENT(N).             { A = stmt_named(ctx, ST_OUTPUT, K, N, 0); }
/* loss softmax_cross_entropy(logits, y) */
stmt(A) ::= LOSS(K) expr(E).                { A = stmt_expr(ctx, ST_LOSS, K, E); }
/* optimizer sgd(lr=0.01, momentum=0.9) */
stmt(A) ::= OPTIMIZER(K) expr(E).           { A = stmt_expr(ctx, ST_OPTIMIZER, K, E); }

params(A) ::= .                             { A = 0; }
params(A) ::= paramlist(L).                 { A = L; }
paramlist(A) ::= IDENT(N).                  { A = ident_append(ctx, 0, N); }
paramlist(A) ::= paramlist(L) COMMA IDENT(N). { A = ident_append(ctx, L, N); }

/* ---------------- expressions ---------------- */
/* h + x, 0.5 * h, n - 1, c / 2 */
expr(A) ::= expr(L) PLUS(O) expr(R).        { A = ast_binary(ctx, O, L, R); }
expr(A) ::= expr(L) MINUS(O) expr(R).       { A = ast_binary(ctx, O, L, R); }
expr(A) ::= expr(L) STAR(O) expr(R).        { A = ast_binary(ctx, O, L, R); }
expr(A) ::= expr(L) SLASH(O) expr(R).       { A = ast_binary(ctx, O, L, R); }
/* -1 */
expr(A) ::= MINUS(O) expr(E). [UMINUS]      { A = ast_neg(ctx, O, E); }
/* (n - 1) */
expr(A) ::= LPAREN expr(E) RPAREN.          { A = E; }
expr(A) ::= INT(T).                         { A = ast_int(ctx, T); }
expr(A) ::= REAL(T).                        { A = ast_real(ctx, T); }
expr(A) ::= TRUE(T).                        { A = ast_bool(ctx, T, true); }
expr(A) ::= FALSE(T).                       { A = ast_bool(ctx, T, false); }
expr(A) ::= IDENT(N).                       { A = ast_name(ctx, N); }
/* dense(h, 256, init=lecun_normal) */
expr(A) ::= IDENT(N) LPAREN args(L) RPAREN. { A = ast_call(ctx, N, L); }

exprlist(A) ::= expr(E).                    { A = E; }
exprlist(A) ::= exprlist(L) COMMA expr(E).  { A = ast_append(L, E); }

args(A) ::= .                               { A = 0; }
args(A) ::= arglist(L).                     { A = L; }
args(A) ::= arglist(L) COMMA.               { A = L; }
arglist(A) ::= arg(E).                      { A = E; }
arglist(A) ::= arglist(L) COMMA arg(E).     { A = ast_append(L, E); }
arg(A) ::= expr(E).                         { A = E; }
/* init=lecun_normal */
arg(A) ::= IDENT(N) ASSIGN expr(E).         { A = ast_kwarg(ctx, N, E); }
