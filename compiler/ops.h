/* ops.h — every IR operation, defined once.
 *
 * OP(NAME, text, arity, kind)
 *   NAME   enum suffix (OP_NAME)
 *   text   the name in IR dumps
 *   arity  number of inputs (-1: variable)
 *   kind   OPK_LEAF (no inputs, storage owned elsewhere), OPK_EW (element-wise, fusable),
 *          OPK_VIEW (reinterprets its input's storage), OPK_COMPLEX (a kernel of its own)
 *
 * Shapes: x is [B, ...] (B the batch), W is unbatched. Formulas and derivatives are stated per row;
 * shape rules live in shape.c, gradients in grad.c, kernels in emit.c, all switching on this enum.
 */

/* ---- leaves ---- */
OP(INPUT,       "input",       0, OPK_LEAF)    /* the model input [B, ...] */
OP(LABEL,       "label",       0, OPK_LEAF)    /* int32 class ids [B] */
OP(TARGET,      "target",      0, OPK_LEAF)    /* real targets [B, ...] */
OP(PARAM,       "param",       0, OPK_LEAF)    /* a trainable parameter */
OP(BUFFER,      "buffer",      0, OPK_LEAF)    /* non-trainable state (batchnorm running stats) */
OP(ONES_SCALAR, "seed_grad",   0, OPK_LEAF)    /* d loss / d loss = 1 */

/* ---- linear algebra ---- */
OP(MATMUL,      "matmul",      2, OPK_COMPLEX) /* C = op(A) op(B), op = transpose if attr.trans_a/b */
OP(BIAS_ADD,    "bias_add",    2, OPK_EW)      /* y[b,c,...] = x[b,c,...] + bias[c] */
OP(BIAS_GRAD,   "bias_grad",   1, OPK_COMPLEX) /* db[c] = sum over b and spatial of dy[b,c,...] */

/* ---- element-wise arithmetic ---- */
OP(ADD,         "add",         2, OPK_EW)      /* a + b;      d/da = 1, d/db = 1 */
OP(SUB,         "sub",         2, OPK_EW)      /* a - b;      d/da = 1, d/db = -1 */
OP(MUL,         "mul",         2, OPK_EW)      /* a * b;      d/da = b, d/db = a */
OP(SCALE,       "scale",       1, OPK_EW)      /* c * x;      d/dx = c */

/* ---- activations: y = f(x) ---- */
OP(RELU,        "relu",        1, OPK_EW)      /* max(0,x);                        f' = [y > 0] */
OP(SELU,        "selu",        1, OPK_EW)      /* l*x (x>0), l*a*(e^x-1);          f' = l (y>0), y + l*a */
OP(ELU,         "elu",         1, OPK_EW)      /* x (x>0), a*(e^x-1);              f' = 1 (y>0), y + a */
OP(LEAKY_RELU,  "leaky_relu",  1, OPK_EW)      /* x (x>0), s*x;                    f' = 1 (x>0), s */
OP(SIGMOID,     "sigmoid",     1, OPK_EW)      /* 1/(1+e^-x);                      f' = y(1-y) */
OP(TANH,        "tanh",        1, OPK_EW)      /* tanh x;                          f' = 1 - y^2 */
OP(SOFTMAX,     "softmax",     1, OPK_COMPLEX) /* e^x_i / sum e^x (per example);   dx = y(dy - <dy,y>) */
OP(DROPOUT,     "dropout",     1, OPK_COMPLEX) /* train: x*m/(1-p), m~Bernoulli(1-p); infer: x */
OP(ALPHA_DROPOUT,"alpha_dropout",1,OPK_COMPLEX)/* train: a*(x*m + a'(1-m)) + b; infer: x */

/* ---- backward of activations: dx = f'(.) * dy; inputs (dy, y) or (dy, x) ---- */
OP(RELU_BWD,    "relu_bwd",    2, OPK_EW)      /* (dy, y) */
OP(SELU_BWD,    "selu_bwd",    2, OPK_EW)      /* (dy, y) */
OP(ELU_BWD,     "elu_bwd",     2, OPK_EW)      /* (dy, y) */
OP(LEAKY_RELU_BWD,"leaky_relu_bwd",2,OPK_EW)   /* (dy, x) */
OP(SIGMOID_BWD, "sigmoid_bwd", 2, OPK_EW)      /* (dy, y) */
OP(TANH_BWD,    "tanh_bwd",    2, OPK_EW)      /* (dy, y) */
OP(SOFTMAX_BWD, "softmax_bwd", 2, OPK_COMPLEX) /* (dy, y) */
OP(DROPOUT_BWD, "dropout_bwd", 1, OPK_COMPLEX) /* (dy); uses the mask of attr.fwd */

/* ---- shape ---- */
OP(RESHAPE,     "reshape",     1, OPK_VIEW)    /* same data, new per-example shape (flatten) */

/* ---- convolutional family: images are [B, C, H, W]; k the kernel, s the stride, p the padding ---- */
OP(CONV2D,      "conv2d",      2, OPK_COMPLEX) /* (x, w [F,C,k,k]): y[b,f,i,j] = Σ_c,u,v w[f,c,u,v] x[b,c,s i+u-p, s j+v-p]
                                                  (x = 0 outside); dx and dw below */
OP(CONV2D_BWD_DATA,"conv2d_bwd_data",2,OPK_COMPLEX)   /* (dy, w): dx[b,c,s i+u-p, s j+v-p] += w[f,c,u,v] dy[b,f,i,j] */
OP(CONV2D_BWD_WEIGHT,"conv2d_bwd_weight",2,OPK_COMPLEX)/* (dy, x): dw[f,c,u,v] = Σ_b,i,j dy[b,f,i,j] x[b,c,s i+u-p, s j+v-p] */
OP(BATCHNORM,   "batchnorm",   5, OPK_COMPLEX) /* (x, gamma, beta, running_mean, running_var), per channel c over
                                                  batch and positions (N values): train: x^ = (x - mean) / sqrt(var + eps)
                                                  with the batch mean and biased variance; infer: the running ones;
                                                  y = gamma x^ + beta */
OP(BATCHNORM_BWD,"batchnorm_bwd",5,OPK_COMPLEX) /* (dy, x, gamma, dgamma, dbeta):
                                                  dx = gamma / (N sqrt(var + eps)) (N dy - dbeta - x^ dgamma) */
OP(BATCHNORM_GAMMA_GRAD,"batchnorm_gamma_grad",2,OPK_COMPLEX) /* (dy, x): dgamma[c] = Σ dy x^ (dbeta is bias_grad) */
OP(MAX_POOL,    "max_pool2d",  1, OPK_COMPLEX) /* y = max of the k x k window (NaN wins, then the first maximum) */
OP(MAX_POOL_BWD,"max_pool2d_bwd",2,OPK_COMPLEX) /* (dy, x): dy routed to the window's arg-max, as torch */
OP(AVG_POOL,    "avg_pool2d",  1, OPK_COMPLEX) /* y = mean of the k x k window */
OP(AVG_POOL_BWD,"avg_pool2d_bwd",1,OPK_COMPLEX) /* (dy): dx += dy / k^2 over the window */
OP(GLOBAL_AVG_POOL,"global_avg_pool",1,OPK_COMPLEX) /* y[b,c] = mean over H, W */
OP(GLOBAL_AVG_POOL_BWD,"global_avg_pool_bwd",1,OPK_COMPLEX) /* (dy): dx[b,c,h,w] = dy[b,c] / (H W) */

/* ---- losses: scalar means over the batch ---- */
OP(SOFTMAX_XENT, "softmax_cross_entropy", 2, OPK_COMPLEX) /* -log softmax(z)[y]; dz = (softmax(z) - onehot(y))/B */
OP(MSE,          "mse",                   2, OPK_COMPLEX) /* mean (p-t)^2;        dp = 2(p-t)/(B*N) */
OP(BCE_LOGITS,   "bce_with_logits",       2, OPK_COMPLEX) /* mean softplus(z) - z*t; dz = (sigmoid(z)-t)/(B*N) */
OP(SOFTMAX_XENT_BWD, "softmax_cross_entropy_bwd", 3, OPK_COMPLEX) /* (dloss, z, y) */
OP(MSE_BWD,      "mse_bwd",               3, OPK_COMPLEX) /* (dloss, p, t) */
OP(BCE_LOGITS_BWD, "bce_with_logits_bwd", 3, OPK_COMPLEX) /* (dloss, z, t) */
