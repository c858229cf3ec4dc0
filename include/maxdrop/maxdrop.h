/* maxdrop/maxdrop.h - the whole public API in one include.
 *
 *   #include <maxdrop/maxdrop.h>
 *   cc app.c $(pkg-config --cflags --libs maxdrop)
 *
 * Every header of include/maxdrop/ is listed here (tests/cli/
 * test_umbrella_header.sh checks that none is missing). */
#ifndef MAXDROP_MAXDROP_H
#define MAXDROP_MAXDROP_H

#include "maxdrop/activation.h"
#include "maxdrop/api.h"
#include "maxdrop/atomic_file.h"
#include "maxdrop/augment.h"
#include "maxdrop/batchnorm.h"
#include "maxdrop/blas.h"
#include "maxdrop/checkpoint.h"
#include "maxdrop/cifar.h"
#include "maxdrop/cifar_fetch.h"
#include "maxdrop/conv2d.h"
#include "maxdrop/cutout.h"
#include "maxdrop/digest.h"
#include "maxdrop/dropout.h"
#include "maxdrop/figure.h"
#include "maxdrop/image.h"
#include "maxdrop/image_folder.h"
#include "maxdrop/linear.h"
#include "maxdrop/loader.h"
#include "maxdrop/loss.h"
#include "maxdrop/lr_schedule.h"
#include "maxdrop/maxdropout.h"
#include "maxdrop/model.h"
#include "maxdrop/npy.h"
#include "maxdrop/pool.h"
#include "maxdrop/random_erasing.h"
#include "maxdrop/residual.h"
#include "maxdrop/rng.h"
#include "maxdrop/safetensors.h"
#include "maxdrop/sgd.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"
#include "maxdrop/trainer.h"
#include "maxdrop/version.h"

#endif /* MAXDROP_MAXDROP_H */
