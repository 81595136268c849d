// A matmul written by hand against Gemmini's C API, in the style of
// gemmini-rocc-tests: C = relu(scale * (A * B + D)) in int8, with the bias D
// moved into the accumulator as int32, the weights preloaded once per
// (k, j) tile and reused across row tiles with compute_accumulated, and
// A moved in four blocks at a time with mvin2's block stride.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include "include/gemmini.h"
#include "include/gemmini_testutils.h"

#define I 64
#define K 64
#define J 48
#define SCALE 0.25f

static elem_t A[I][K] row_align(1);
static elem_t B[K][J] row_align(1);
static acc_t D[I][J] row_align_acc(1);
static elem_t C[I][J] row_align(1);
static elem_t gold[I][J];

static elem_t requantize(int32_t x) {
  float y = nearbyintf((float)x * SCALE); // ties to even, as Gemmini rounds
  if (y > 127) y = 127;
  if (y < -128) y = -128;
  return y < 0 ? 0 : (elem_t)y; // RELU
}

int main(void) {
  gemmini_flush(0);
  srand(7);
  for (int i = 0; i < I; i++)
    for (int k = 0; k < K; k++) A[i][k] = (rand() % 17) - 8;
  for (int k = 0; k < K; k++)
    for (int j = 0; j < J; j++) B[k][j] = (rand() % 17) - 8;
  for (int i = 0; i < I; i++)
    for (int j = 0; j < J; j++) D[i][j] = (rand() % 201) - 100;
  for (int i = 0; i < I; i++)
    for (int j = 0; j < J; j++) {
      int32_t sum = D[i][j];
      for (int k = 0; k < K; k++) sum += (int32_t)A[i][k] * B[k][j];
      gold[i][j] = requantize(sum);
    }

  const uint32_t A_sp = 0;                   // K/DIM blocks per row tile
  const uint32_t B_sp = BANK_ROWS;           // another bank
  const uint32_t acc = 1u << 31;
  const int row_tiles = I / DIM, k_blocks = K / DIM;

  gemmini_extended4_config_ld(K * sizeof(elem_t), MVIN_SCALE_IDENTITY, false, row_tiles * DIM, 0);
  gemmini_extended3_config_ld(J * sizeof(elem_t), MVIN_SCALE_IDENTITY, false, 1);
  gemmini_extended3_config_ld(J * sizeof(acc_t), MVIN_SCALE_IDENTITY, false, 2);
  gemmini_extended_config_ex(WEIGHT_STATIONARY, NO_ACTIVATION, 0, 1, false, false);
  gemmini_extended_config_st(J * sizeof(elem_t), RELU, SCALE);

  uint64_t start = read_cycles();
  // A: every row tile, all of K, in blocks of 4 (block k of row tile i at
  // A_sp + k*I + i*DIM).
  for (int i = 0; i < row_tiles; i++)
    for (int k = 0; k < k_blocks; k += 4)
      gemmini_extended_mvin(&A[i * DIM][k * DIM], A_sp + k * I + i * DIM, 4 * DIM, DIM);
  for (int j = 0; j < J / DIM; j++) {
    for (int i = 0; i < row_tiles; i++)
      gemmini_extended_mvin3(&D[i * DIM][j * DIM], acc + i * DIM, DIM, DIM);
    for (int k = 0; k < k_blocks; k++) {
      const uint32_t b = B_sp + (k % 2) * DIM;
      gemmini_extended_mvin2(&B[k * DIM][j * DIM], b, DIM, DIM);
      for (int i = 0; i < row_tiles; i++) {
        const uint32_t out = acc | (1u << 30) | (i * DIM);
        if (i == 0) {
          gemmini_extended_preload(b, out, DIM, DIM, DIM, DIM);
          gemmini_extended_compute_preloaded(A_sp + k * I + i * DIM, GARBAGE_ADDR, DIM, DIM, DIM, DIM);
        } else {
          gemmini_extended_preload(GARBAGE_ADDR, out, DIM, DIM, DIM, DIM);
          gemmini_extended_compute_accumulated(A_sp + k * I + i * DIM, GARBAGE_ADDR, DIM, DIM, DIM, DIM);
        }
      }
    }
    for (int i = 0; i < row_tiles; i++)
      gemmini_extended_mvout(&C[i * DIM][j * DIM], acc + i * DIM, DIM, DIM);
  }
  gemmini_fence();
  uint64_t end = read_cycles();

  for (int i = 0; i < I; i++)
    for (int j = 0; j < J; j++)
      if (C[i][j] != gold[i][j]) {
        printf("Incorrect result: C[%d][%d] = %d, expected %d\n", i, j, C[i][j], gold[i][j]);
        exit(1);
      }
  printf("Correct result\nlatency: %llu cycles\n", (unsigned long long)(end - start));
  return 0;
}
