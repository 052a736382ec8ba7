import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { parseConfigText, resolveModelConfig, type Sam2ConfigFile } from '../src/config.js';
import { loadConfigFile } from '../src/node/load.js';
import { ConfigError } from '../src/errors.js';
import { openTorchCheckpoint } from '../src/node/files.js';
import { OFFICIAL_VARIANTS, officialModelSection } from '../src/presets/official.js';
import { checkConfigFits, detectVariant, fingerprintOfConfig, fingerprintOfStateDict } from '../src/presets/detect.js';
import { countParameters } from '../tools/convert.js';
import { fixturePath, goldenJson } from './helpers/golden.js';

interface SkeletonIndex {
  [name: string]: { yaml: string; params: number; tensors: Record<string, number[]> };
}

const MINIS = [['sam21_mini', '2.1'], ['sam2_mini', '2.0'], ['sam21_mini_b', '2.1']] as const;

async function shapesOf(file: string): Promise<Map<string, number[]>> {
  const ck = await openTorchCheckpoint(file);
  try {
    return ck.shapes();
  } finally {
    ck.close();
  }
}

function throwsConfigError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ConfigError && re.test((e as Error).message));
}

describe('model configs', () => {
  describe('official variants (skeleton checkpoints)', () => {
    const skeletons = goldenJson<SkeletonIndex>('skeletons/skeletons.json');

    it('covers the eight official variants, each a full config once resolved', () => {
      assert.deepEqual(OFFICIAL_VARIANTS.map((v) => v.name).sort(), Object.keys(skeletons).sort());
      for (const v of OFFICIAL_VARIANTS) {
        const c = resolveModelConfig(officialModelSection(v.version, v.size));
        assert.equal(c.image_size, 1024);
        assert.deepEqual(c.image_encoder.neck.backbone_channel_list, [3, 2, 1, 0].map((i) => c.image_encoder.trunk.embed_dim * 2 ** i));
        assert.ok(skeletons[v.name].yaml.endsWith(v.yaml), `${v.name}: ${skeletons[v.name].yaml} vs ${v.yaml}`);
      }
    });

    for (const v of OFFICIAL_VARIANTS) {
      it(`${v.name}: keys and shapes equal skeletons.json, and the variant is detected from them`, async () => {
        const ck = await openTorchCheckpoint(fixturePath(`skeletons/${v.name}.skeleton.pt`));
        try {
          const shapes = ck.shapes();
          const expected = skeletons[v.name];
          assert.deepEqual([...shapes.keys()], Object.keys(expected.tensors));
          assert.deepEqual(Object.fromEntries(shapes), expected.tensors);
          assert.equal(countParameters(shapes).total, expected.params);
          // Shapes come from the pickle alone: every tensor is a stride-0 view that is never expanded here.
          const expanded = (t: { shape: number[]; strides: number[] }) => t.strides.every((s, i) => s === 0 || t.shape[i] === 1);
          assert.ok([...ck.tensors.values()].every((t) => t.dtype === 'float32' && expanded(t)));
          assert.deepEqual(Array.from(ck.read('no_obj_ptr').data), new Array(256).fill(0));

          const found = detectVariant(shapes);
          assert.deepEqual(found, v);
          assert.deepEqual(fingerprintOfStateDict(shapes), fingerprintOfConfig(resolveModelConfig(officialModelSection(v.version, v.size))));
        } finally {
          ck.close();
        }
      });
    }
  });

  describe('mini models', () => {
    for (const [model, version] of MINIS) {
      it(`${model}: not detected as official, but its config fits its checkpoint`, async () => {
        const shapes = await shapesOf(fixturePath(`${model}.pt`));
        throwsConfigError(() => detectVariant(shapes), /^not an official SAM 2 variant: pass --config/);
        const file = goldenJson<Sam2ConfigFile>(`${model}.config.json`);
        assert.equal(file.sam2_version, version);
        checkConfigFits(resolveModelConfig(file), shapes);
        const other = goldenJson(`${model === 'sam2_mini' ? 'sam21_mini' : 'sam2_mini'}.config.json`);
        throwsConfigError(() => checkConfigFits(resolveModelConfig(other), shapes, 'other.json'), /other\.json does not fit the checkpoint.*\n.*trunkEmbedDim/);
      });

      it(`${model}: every top-level flag equals the official tiny yaml it was made from (sizes aside)`, () => {
        const official = officialModelSection(version, 'tiny') as Record<string, unknown>;
        const mini = goldenJson<{ model: Record<string, unknown> }>(`${model}.config.json`).model;
        for (const [key, value] of Object.entries(official)) {
          if (typeof value === 'object' || key === 'image_size') continue;
          assert.deepEqual(mini[key], value, key);
        }
        assert.deepEqual(Object.keys(mini).filter((k) => !(k in official)), []);
      });
    }
  });

  describe('config files', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-config-'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const write = (name: string, text: string) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    };

    it('reads an official yaml (`model:` with _target_ entries) as the preset', async () => {
      for (const v of OFFICIAL_VARIANTS) {
        const section = officialModelSection(v.version, v.size);
        const file = write(`${v.name}.yaml`, `# @package _global_\n\n${YAML.stringify({ model: section })}`);
        assert.deepEqual(await loadConfigFile(file), { model: section });
      }
    });

    it('reads our JSON (golden configs, convert output) and a bare model section', async () => {
      const golden = goldenJson<Sam2ConfigFile>('sam21_mini.config.json');
      const loaded = await loadConfigFile(fixturePath('sam21_mini.config.json'));
      assert.deepEqual(loaded, { name: 'sam21_mini', sam2_version: '2.1', model: golden.model, predictor_settings: golden.predictor_settings });
      assert.deepEqual(resolveModelConfig(loaded), resolveModelConfig(golden));
      const bare = await loadConfigFile(write('bare.json', JSON.stringify(golden.model)));
      assert.deepEqual(bare, { model: golden.model });
    });

    it('an image size the image encoder cannot tile is a ConfigError naming it; multiples of 32 pass', () => {
      const withSize = (image_size: unknown) => ({ ...officialModelSection('2.1', 'tiny'), image_size });
      for (const bad of [0, -32, 1000, 1008, 512.5, '1024']) {
        throwsConfigError(() => resolveModelConfig(withSize(bad)), /model\.image_size must be a positive multiple of 32 .*found/);
      }
      for (const good of [96, 256, 1024]) assert.equal(resolveModelConfig(withSize(good)).image_size, good);
    });

    it('every field is checked for its type and range: a ConfigError names the field, what it must be, and what was found', () => {
      const base = () => structuredClone(officialModelSection('2.1', 'tiny')) as Record<string, any>;
      const cases: [(m: Record<string, any>) => void, RegExp][] = [
        [(m) => { m.image_size = 1e9; }, /model\.image_size must be a positive multiple of 32 .* up to 8192, found 1000000000/],
        [(m) => { delete m.image_size; }, /model\.image_size is required \(1024 for the official checkpoints\)/],
        [(m) => { m.sigmoid_scale_for_mem_enc = 'NaN'; }, /model\.sigmoid_scale_for_mem_enc must be a finite number, found "NaN"/],
        [(m) => { m.max_obj_ptrs_in_encoder = -5; }, /model\.max_obj_ptrs_in_encoder must be an integer in 1\.\.65536, found -5/],
        [(m) => { m.num_maskmem = 2.5; }, /model\.num_maskmem must be an integer/],
        [(m) => { m.use_obj_ptrs_in_encoder = 'true'; }, /model\.use_obj_ptrs_in_encoder must be true or false, found "true"/],
        [(m) => { m.max_cond_frames_in_attn = 0; }, /model\.max_cond_frames_in_attn must be an integer \(-1 or ≥ 1\), found 0/],
        [(m) => { m.image_encoder.trunk.stages = [1, 'two', 7, 2]; }, /model\.image_encoder\.trunk\.stages must be a list of integers ≥ 1/],
        [(m) => { m.image_encoder.trunk.window_spec = [8, 4]; }, /model\.image_encoder\.trunk\.window_spec must be a list of 4 integers/],
        [(m) => { m.image_encoder.neck.fuse_type = 'max'; }, /model\.image_encoder\.neck\.fuse_type must be "sum" or "avg", found "max"/],
        [(m) => { m.memory_attention.layer.self_attention.rope_theta = -1; }, /self_attention\.rope_theta must be a finite number > 0, found -1/],
        [(m) => { m.memory_attention.layer.dropout = 2; }, /model\.memory_attention\.layer\.dropout must be a finite number ≥ 0 ≤ 1, found 2/],
        [(m) => { m.memory_encoder.position_encoding.scale = 'big'; }, /position_encoding\.scale must be a finite number or null, found "big"/],
        [(m) => { m.memory_encoder.out_dim = null; }, /model\.memory_encoder\.out_dim (is required|must be)/],
      ];
      for (const [change, re] of cases) {
        const m = base();
        change(m);
        throwsConfigError(() => resolveModelConfig(m), re);
      }
      // Every official and golden config passes.
      for (const v of OFFICIAL_VARIANTS) resolveModelConfig(officialModelSection(v.version, v.size));
      for (const [model] of MINIS) resolveModelConfig(goldenJson(`${model}.config.json`));
    });

    it('fills the official constructor defaults (RoPEAttention feat_sizes 64×64)', () => {
      const section = structuredClone(officialModelSection('2.1', 'tiny')) as { memory_attention: { layer: { self_attention: Record<string, unknown> } } };
      delete section.memory_attention.layer.self_attention.feat_sizes;
      assert.deepEqual(resolveModelConfig(section).memory_attention.layer.self_attention.feat_sizes, [64, 64]);
    });

    it('rejects malformed configs with ConfigError', async () => {
      const cases: [string, string, RegExp][] = [
        ['bad.yaml', 'model: [unclosed', /not valid YAML/],
        ['bad.json', '{"model": ', /not valid JSON/],
        ['none.yaml', 'trainer: {max_epochs: 1}', /no 'model' section/],
        ['interp.yaml', 'model:\n  image_size: ${scratch.resolution}\n', /model\.image_size uses a hydra interpolation/],
        ['version.json', JSON.stringify({ sam2_version: '3', model: goldenJson<Sam2ConfigFile>('sam2_mini.config.json').model }), /sam2_version is "3"/],
        ['partial.json', JSON.stringify({ model: { image_size: 1024 } }), /model\.image_encoder: expected an object/],
      ];
      for (const [name, text, re] of cases) {
        await assert.rejects(loadConfigFile(write(name, text)), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message), name);
      }
      await assert.rejects(loadConfigFile(path.join(dir, 'missing.yaml')), (e: unknown) => e instanceof ConfigError && /cannot read config/.test((e as Error).message));
      throwsConfigError(() => parseConfigText('[1, 2]', 'yaml', 'list.yaml'), /list\.yaml: expected an object/);
    });
  });
});
